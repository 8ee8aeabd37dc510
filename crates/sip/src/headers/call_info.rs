//! The Call-Info header (RFC 3261 §20.9), and the form RFC 6910 §7.1 / §11 gives it for
//! call completion: `<cc-URI>;purpose=call-completion;m=BS`.

use super::{Header, HeaderError};
use crate::header_name::HeaderName;
use crate::params::Params;
use crate::text;
use crate::uri::Uri;
use std::fmt::Write as _;

/// The `purpose` value RFC 6910 registers.
pub const PURPOSE_CALL_COMPLETION: &str = "call-completion";

/// One Call-Info value: a URI with information about the call, and its purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    /// The URI (any scheme).
    pub uri: Uri,
    /// The parameters (`purpose`, `m`, ...), as written.
    pub params: Params,
}

impl CallInfo {
    /// `<uri>;purpose=call-completion`, plus `;m=<m>` when given: the header a callee's
    /// side adds to a failed call (RFC 6910 §7.1) and a recall carries (§7.2). `m` is
    /// `BS`, `NR` or `NL` (RFC 6910 §11); the caller passes a token.
    pub fn call_completion(uri: Uri, m: Option<&str>) -> CallInfo {
        let mut params = Params::new();
        params.push("purpose", Some(PURPOSE_CALL_COMPLETION.to_string()));
        if let Some(m) = m {
            params.push("m", Some(m.to_string()));
        }
        CallInfo { uri, params }
    }

    /// The `purpose` parameter.
    pub fn purpose(&self) -> Option<&str> {
        self.params.value("purpose")
    }

    /// Whether `purpose` is `call-completion` (any case).
    pub fn is_call_completion(&self) -> bool {
        self.purpose()
            .is_some_and(|p| p.eq_ignore_ascii_case(PURPOSE_CALL_COMPLETION))
    }

    /// The RFC 6910 `m` parameter (the call-completion mode).
    pub fn m(&self) -> Option<&str> {
        self.params.value("m")
    }
}

impl Header for CallInfo {
    const NAME: HeaderName = HeaderName::CallInfo;
    const LIST: bool = true;

    fn parse(value: &str) -> Result<CallInfo, HeaderError> {
        let s = text::trim_wsp(value);
        if s.is_empty() {
            return Err(HeaderError::Empty);
        }
        let inner = s
            .strip_prefix('<')
            .ok_or(HeaderError::Syntax("Call-Info needs a URI in '<' and '>'"))?;
        let gt = inner
            .find('>')
            .ok_or(HeaderError::Syntax("'<' without a closing '>'"))?;
        let uri = Uri::parse(&inner[..gt])?;
        let params = Params::parse_header_params(&inner[gt + 1..])?;
        for name in ["purpose", "m"] {
            if let Some(p) = params.get(name) {
                if !p.value.as_deref().is_some_and(text::is_token) {
                    return Err(HeaderError::Syntax("purpose and m must be tokens"));
                }
            }
        }
        Ok(CallInfo { uri, params })
    }

    fn write(&self, out: &mut String) {
        out.push('<');
        let _ = write!(out, "{}", self.uri);
        out.push('>');
        let _ = write!(out, "{}", self.params);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::UriError;

    #[test]
    fn good_values() {
        // (value, purpose, m, written form)
        let cases: &[(&str, Option<&str>, Option<&str>, &str)] = &[
            // RFC 6910 §11 style.
            (
                "<sip:cc-server@b.example.com>;purpose=call-completion;m=NR",
                Some("call-completion"),
                Some("NR"),
                "<sip:cc-server@b.example.com>;purpose=call-completion;m=NR",
            ),
            (
                "<sip:cc@b.example.com> ; purpose = Call-Completion",
                Some("Call-Completion"),
                None,
                "<sip:cc@b.example.com>;purpose=Call-Completion",
            ),
            // RFC 3261 §20.9 examples.
            (
                "<http://wwww.example.com/alice/photo.jpg> ;purpose=icon",
                Some("icon"),
                None,
                "<http://wwww.example.com/alice/photo.jpg>;purpose=icon",
            ),
            (
                "<http://www.example.com/alice/>;purpose=info",
                Some("info"),
                None,
                "<http://www.example.com/alice/>;purpose=info",
            ),
            ("<sip:x>", None, None, "<sip:x>"),
        ];
        for (value, purpose, m, written) in cases {
            let c = CallInfo::parse(value).unwrap();
            assert_eq!(c.purpose(), *purpose, "{value}");
            assert_eq!(c.m(), *m, "{value}");
            assert_eq!(c.to_value(), *written, "{value}");
            assert_eq!(CallInfo::parse(written), Ok(c), "{value}");
        }
        assert!(CallInfo::parse("<sip:cc@b>;purpose=CALL-COMPLETION")
            .unwrap()
            .is_call_completion());
        assert!(!CallInfo::parse("<sip:cc@b>;purpose=icon")
            .unwrap()
            .is_call_completion());
    }

    #[test]
    fn bad_values() {
        let cases: &[(&str, HeaderError)] = &[
            ("", HeaderError::Empty),
            (
                "sip:cc@b;purpose=call-completion",
                HeaderError::Syntax("Call-Info needs a URI in '<' and '>'"),
            ),
            (
                "\"CC\" <sip:cc@b>",
                HeaderError::Syntax("Call-Info needs a URI in '<' and '>'"),
            ),
            (
                "<sip:cc@b",
                HeaderError::Syntax("'<' without a closing '>'"),
            ),
            (
                "<sip:cc@b>;purpose",
                HeaderError::Syntax("purpose and m must be tokens"),
            ),
            (
                "<sip:cc@b>;m=\"BS\"",
                HeaderError::Syntax("purpose and m must be tokens"),
            ),
            ("<cc@b>", HeaderError::Uri(UriError::MissingScheme)),
            (
                "<sip:cc@b> purpose=icon",
                HeaderError::Params(crate::params::ParamsError::InvalidName(
                    "purpose=icon".into(),
                )),
            ),
        ];
        for (value, err) in cases {
            assert_eq!(CallInfo::parse(value).as_ref(), Err(err), "{value}");
        }
    }

    #[test]
    fn call_completion_constructor() {
        let uri = Uri::parse("sip:cc-agent@callee.example.com").unwrap();
        let c = CallInfo::call_completion(uri.clone(), Some("BS"));
        assert_eq!(
            c.to_value(),
            "<sip:cc-agent@callee.example.com>;purpose=call-completion;m=BS"
        );
        assert!(c.is_call_completion());
        assert_eq!(c.m(), Some("BS"));
        assert_eq!(CallInfo::parse(&c.to_value()), Ok(c));
        let recall = CallInfo::call_completion(uri, None);
        assert_eq!(
            recall.to_value(),
            "<sip:cc-agent@callee.example.com>;purpose=call-completion"
        );
        assert_eq!(recall.m(), None);
    }
}
