//! `name-addr` and `addr-spec` (RFC 3261 §20.10, §25.1): the address form shared by From,
//! To, Contact, Route, Record-Route and Path.
//!
//! A value is either `[display-name] <URI> *(;param)` or a bare URI followed by `;params`.
//! In the bare form, parameters after the URI belong to the header, not to the URI, which is
//! why a bare URI may not contain `,`, `;` or `?` (RFC 3261 §20.10).
//!
//! Writing always uses the bracketed form and a quoted display name: it is valid for every
//! value and reads back to an equal [`NameAddr`]. The exact original spelling is kept by the
//! message layer for headers nobody changed.

use crate::headers::HeaderError;
use crate::params::Params;
use crate::text;
use crate::uri::Uri;
use std::fmt::Write as _;

/// An address with an optional display name and header parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name, unquoted and unescaped. Token display names have their white space
    /// runs collapsed to one space.
    pub display: Option<String>,
    /// The address.
    pub uri: Uri,
    /// Header parameters after the address (`;tag=...`, `;expires=...`).
    pub params: Params,
}

impl NameAddr {
    /// An address without display name or parameters.
    pub fn new(uri: Uri) -> NameAddr {
        NameAddr {
            display: None,
            uri,
            params: Params::new(),
        }
    }

    /// Parses a `name-addr` or an `addr-spec`, each followed by header parameters.
    pub fn parse(s: &str) -> Result<NameAddr, HeaderError> {
        parse_form(s).map(|(addr, _)| addr)
    }

    /// Parses a `name-addr` only: the URI must be in angle brackets (Route, Record-Route,
    /// Path).
    pub fn parse_bracketed(s: &str) -> Result<NameAddr, HeaderError> {
        match parse_form(s)? {
            (addr, true) => Ok(addr),
            (_, false) => Err(HeaderError::Syntax(
                "the URI must be enclosed in '<' and '>'",
            )),
        }
    }

    /// Writes `"display" <uri>;params` (the display name only when there is one).
    pub fn write(&self, out: &mut String) {
        if let Some(display) = &self.display {
            text::write_quoted(out, display);
            out.push(' ');
        }
        out.push('<');
        let _ = write!(out, "{}", self.uri);
        out.push('>');
        let _ = write!(out, "{}", self.params);
    }

    /// The value in wire form.
    pub fn to_value(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }
}

/// Parses either form; the flag says whether the URI was in angle brackets.
fn parse_form(s: &str) -> Result<(NameAddr, bool), HeaderError> {
    let s = text::trim_wsp(s);
    if s.is_empty() {
        return Err(HeaderError::Empty);
    }
    let (display, bracketed) = if s.starts_with('"') {
        let (display, rest) =
            text::read_quoted(s).ok_or(HeaderError::Syntax("display name has no closing quote"))?;
        let rest = rest.trim_start_matches([' ', '\t']);
        if !rest.starts_with('<') {
            return Err(HeaderError::Syntax(
                "a quoted display name must be followed by <URI>",
            ));
        }
        (Some(display), rest)
    } else {
        match s.find('<') {
            // A display name cannot hold ':', so a ':' before '<' means a bare URI whose
            // parameters happen to contain '<' (which the URI parser then refuses).
            Some(lt) if !s[..lt].contains(':') => (token_display(&s[..lt])?, &s[lt..]),
            _ => return parse_addr_spec(s).map(|a| (a, false)),
        }
    };
    let inner = &bracketed[1..];
    let gt = inner
        .find('>')
        .ok_or(HeaderError::Syntax("'<' without a closing '>'"))?;
    let uri = Uri::parse(&inner[..gt])?;
    let params = Params::parse_header_params(&inner[gt + 1..])?;
    Ok((
        NameAddr {
            display,
            uri,
            params,
        },
        true,
    ))
}

/// `display-name = *(token LWS)`: tokens separated by white space, collapsed to one space.
fn token_display(s: &str) -> Result<Option<String>, HeaderError> {
    let words: Vec<&str> = s.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
    if words.is_empty() {
        return Ok(None);
    }
    if !words.iter().all(|w| text::is_token(w)) {
        return Err(HeaderError::Syntax(
            "display name is neither tokens nor a quoted string",
        ));
    }
    Ok(Some(words.join(" ")))
}

fn parse_addr_spec(s: &str) -> Result<NameAddr, HeaderError> {
    let end = s.find(';').unwrap_or(s.len());
    let uri_text = text::trim_wsp(&s[..end]);
    if uri_text.contains(['?', ',']) {
        return Err(HeaderError::Syntax(
            "a URI with '?' or ',' must be enclosed in '<' and '>'",
        ));
    }
    Ok(NameAddr {
        display: None,
        uri: Uri::parse(uri_text)?,
        params: Params::parse_header_params(&s[end..])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::UriError;

    /// (value, display, uri, params, bracketed, written form)
    type Row<'a> = (&'a str, Option<&'a str>, &'a str, &'a str, bool, &'a str);

    #[test]
    fn good_values() {
        let cases: &[Row] = &[
            (
                r#""A. Bell" <sip:a@b>;tag=x"#,
                Some("A. Bell"),
                "sip:a@b",
                ";tag=x",
                true,
                r#""A. Bell" <sip:a@b>;tag=x"#,
            ),
            // RFC 4475 §3.1.1.1 wsinv: escaped quote and backslash, LWS before '<' and ';'.
            (
                r#""J Rosenberg \\\""       <sip:jdrosen@example.com> ;   tag = 98asjd8"#,
                Some(r#"J Rosenberg \""#),
                "sip:jdrosen@example.com",
                ";tag=98asjd8",
                true,
                r#""J Rosenberg \\\"" <sip:jdrosen@example.com>;tag=98asjd8"#,
            ),
            // RFC 4475 §3.1.1.6 lwsdisp: no space between display name and '<'.
            (
                "caller<sip:caller@example.com>;tag=323",
                Some("caller"),
                "sip:caller@example.com",
                ";tag=323",
                true,
                r#""caller" <sip:caller@example.com>;tag=323"#,
            ),
            (
                "Bob   Smith\t<sip:bob@b.example>",
                Some("Bob Smith"),
                "sip:bob@b.example",
                "",
                true,
                r#""Bob Smith" <sip:bob@b.example>"#,
            ),
            (
                r#""" <sip:x>"#,
                Some(""),
                "sip:x",
                "",
                true,
                r#""" <sip:x>"#,
            ),
            (
                r#""Ünïcode <x>"<sip:x>"#,
                Some("Ünïcode <x>"),
                "sip:x",
                "",
                true,
                r#""Ünïcode <x>" <sip:x>"#,
            ),
            (
                "sip:caller@example.net;tag=384",
                None,
                "sip:caller@example.net",
                ";tag=384",
                false,
                "<sip:caller@example.net>;tag=384",
            ),
            (
                "  sip:caller@example.net ; tag=1  ",
                None,
                "sip:caller@example.net",
                ";tag=1",
                false,
                "<sip:caller@example.net>;tag=1",
            ),
            // RFC 4475 §3.1.1.9 / §3.1.1.10 cparam01 and cparam02.
            (
                "sip:+19725552222@gw1.example.net;unknownparam",
                None,
                "sip:+19725552222@gw1.example.net",
                ";unknownparam",
                false,
                "<sip:+19725552222@gw1.example.net>;unknownparam",
            ),
            (
                "<sip:+19725552222@gw1.example.net;unknownparam>",
                None,
                "sip:+19725552222@gw1.example.net;unknownparam",
                "",
                true,
                "<sip:+19725552222@gw1.example.net;unknownparam>",
            ),
            // RFC 4475 §3.3.4 regescrt: a URI header inside brackets.
            (
                "<sip:user@example.com?Route=%3Csip:sip.example.com%3E>",
                None,
                "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
                "",
                true,
                "<sip:user@example.com?Route=%3Csip:sip.example.com%3E>",
            ),
            (
                "<name:John_Doe>",
                None,
                "name:John_Doe",
                "",
                true,
                "<name:John_Doe>",
            ),
            (
                "sip:%75se%72@example.com",
                None,
                "sip:%75se%72@example.com",
                "",
                false,
                "<sip:%75se%72@example.com>",
            ),
            (
                r#"<sip:a@b>;x="a;b,c""#,
                None,
                "sip:a@b",
                r#";x="a;b,c""#,
                true,
                r#"<sip:a@b>;x="a;b,c""#,
            ),
        ];
        for (value, display, uri, params, bracketed, written) in cases {
            let (a, b) = parse_form(value).unwrap();
            assert_eq!(a.display.as_deref(), *display, "{value}");
            assert_eq!(a.uri.to_string(), *uri, "{value}");
            assert_eq!(a.params.to_string(), *params, "{value}");
            assert_eq!(b, *bracketed, "{value}");
            assert_eq!(a.to_value(), *written, "{value}");
            assert_eq!(NameAddr::parse(written), Ok(a), "{value}");
        }
    }

    #[test]
    fn bad_values() {
        let cases: &[(&str, HeaderError)] = &[
            ("", HeaderError::Empty),
            ("   ", HeaderError::Empty),
            // RFC 4475 §3.1.2.13 baddn: unquoted display name with a comma.
            (
                "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
                HeaderError::Syntax("display name is neither tokens nor a quoted string"),
            ),
            // RFC 4475 §3.1.2.7 quotbal: unbalanced quote.
            (
                r#""Mr. J. User <sip:j.user@example.com>"#,
                HeaderError::Syntax("display name has no closing quote"),
            ),
            (
                r#""A" sip:a@b"#,
                HeaderError::Syntax("a quoted display name must be followed by <URI>"),
            ),
            ("<sip:a@b", HeaderError::Syntax("'<' without a closing '>'")),
            (
                "sip:user@example.com?Route=x",
                HeaderError::Syntax("a URI with '?' or ',' must be enclosed in '<' and '>'"),
            ),
            (
                "<sip:a@b> x",
                HeaderError::Params(crate::params::ParamsError::InvalidName("x".into())),
            ),
            (
                "<sip:a@b>;;",
                HeaderError::Params(crate::params::ParamsError::Empty),
            ),
            ("<>", HeaderError::Uri(UriError::Empty)),
            (
                "< sip:a@b>",
                HeaderError::Uri(UriError::BadScheme(" sip".into())),
            ),
            (
                "<sip:2001:db8::10>",
                HeaderError::Uri(UriError::UnbracketedIpv6("2001:db8::10".into())),
            ),
            ("alice", HeaderError::Uri(UriError::MissingScheme)),
        ];
        for (value, err) in cases {
            assert_eq!(NameAddr::parse(value).as_ref(), Err(err), "{value}");
        }
        assert!(NameAddr::parse_bracketed("sip:a@b;lr").is_err());
        assert!(NameAddr::parse_bracketed("<sip:a@b;lr>").is_ok());
    }
}
