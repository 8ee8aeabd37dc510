//! `Content-Type` (RFC 3261 §20.15): the media type of the body.
//!
//! The grammar is `m-type "/" m-subtype *( ";" m-parameter )` with `m-parameter =
//! m-attribute "=" ( token / quoted-string )` (§25.1). Type, subtype and parameter names
//! compare case-insensitively (RFC 2045 §5.1); they are kept as written so a message passed
//! on is unchanged.

use crate::header_name::HeaderName;
use crate::headers::{Header, HeaderError};
use crate::params::{Params, ParamsError};
use crate::text;
use std::fmt::Write as _;

/// A `Content-Type` value such as `application/sdp` or `multipart/mixed;boundary=x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// The top-level type (`application`), as written.
    pub ty: String,
    /// The subtype (`sdp`, `pidf+xml`), as written.
    pub subtype: String,
    /// The media type parameters, in order.
    pub params: Params,
}

impl ContentType {
    /// A media type without parameters. Both parts must be tokens for the result to be
    /// valid on the wire.
    pub fn new(ty: &str, subtype: &str) -> ContentType {
        ContentType {
            ty: ty.to_string(),
            subtype: subtype.to_string(),
            params: Params::new(),
        }
    }

    /// True when this is `ty/subtype`, ignoring case and parameters.
    pub fn is(&self, ty: &str, subtype: &str) -> bool {
        text::eq_ignore_case(&self.ty, ty) && text::eq_ignore_case(&self.subtype, subtype)
    }

    /// The `boundary` parameter of a multipart type, unquoted.
    pub fn boundary(&self) -> Option<String> {
        self.params.unquoted("boundary")
    }
}

impl Header for ContentType {
    const NAME: HeaderName = HeaderName::ContentType;

    fn parse(value: &str) -> Result<ContentType, HeaderError> {
        let value = text::trim_wsp(value);
        if value.is_empty() {
            return Err(HeaderError::Empty);
        }
        let (media, rest) = value.split_at(value.find(';').unwrap_or(value.len()));
        let (ty, subtype) = media
            .split_once('/')
            .map(|(t, s)| (text::trim_wsp(t), text::trim_wsp(s)))
            .ok_or(HeaderError::Syntax("Content-Type needs type/subtype"))?;
        if !text::is_token(ty) || !text::is_token(subtype) {
            return Err(HeaderError::Syntax(
                "Content-Type type and subtype must be tokens",
            ));
        }
        let params = Params::parse_header_params(rest)?;
        for p in params.iter() {
            let valid = match p.value.as_deref() {
                Some(v) => v.starts_with('"') || text::is_token(v),
                None => false,
            };
            if !valid {
                return Err(ParamsError::InvalidValue(p.name.clone()).into());
            }
        }
        Ok(ContentType {
            ty: ty.to_string(),
            subtype: subtype.to_string(),
            params,
        })
    }

    fn write(&self, out: &mut String) {
        out.push_str(&self.ty);
        out.push('/');
        out.push_str(&self.subtype);
        let _ = write!(out, "{}", self.params);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_values() {
        let rows = [
            ("application/sdp", "application", "sdp", "application/sdp"),
            (
                "application/call-completion",
                "application",
                "call-completion",
                "application/call-completion",
            ),
            (
                "application/pidf+xml",
                "application",
                "pidf+xml",
                "application/pidf+xml",
            ),
            // RFC 4475 §3.1.1.11 (mpart01.dat).
            (
                "multipart/mixed;boundary=7a9cbec02ceef655",
                "multipart",
                "mixed",
                "multipart/mixed;boundary=7a9cbec02ceef655",
            ),
            (
                " Text / Plain ; charset = \"utf-8\" ",
                "Text",
                "Plain",
                "Text/Plain;charset=\"utf-8\"",
            ),
        ];
        for (input, ty, subtype, wire) in rows {
            let ct = ContentType::parse(input).unwrap();
            assert!(ct.is(ty, subtype), "{input:?}");
            assert_eq!((ct.ty.as_str(), ct.subtype.as_str()), (ty, subtype));
            assert_eq!(ct.to_value(), wire);
            assert_eq!(ContentType::parse(&ct.to_value()).unwrap(), ct);
        }
    }

    #[test]
    fn comparison_ignores_case_and_parameters() {
        let ct = ContentType::parse("Multipart/MIXED; Boundary=\"a b\"").unwrap();
        assert!(ct.is("multipart", "mixed"));
        assert!(!ct.is("multipart", "alternative"));
        assert_eq!(ct.boundary().as_deref(), Some("a b"));
        assert!(ContentType::new("application", "sdp").is("APPLICATION", "SDP"));
        assert_eq!(
            ContentType::new("application", "sdp").to_value(),
            "application/sdp"
        );
    }

    #[test]
    fn bad_values() {
        let rows = [
            ("", HeaderError::Empty),
            (
                "sdp",
                HeaderError::Syntax("Content-Type needs type/subtype"),
            ),
            (
                "application/",
                HeaderError::Syntax("Content-Type type and subtype must be tokens"),
            ),
            (
                "/sdp",
                HeaderError::Syntax("Content-Type type and subtype must be tokens"),
            ),
            (
                "application/sdp/x",
                HeaderError::Syntax("Content-Type type and subtype must be tokens"),
            ),
            (
                "appli cation/sdp",
                HeaderError::Syntax("Content-Type type and subtype must be tokens"),
            ),
            ("application/sdp;", ParamsError::Empty.into()),
            (
                "application/sdp;charset",
                ParamsError::InvalidValue("charset".into()).into(),
            ),
            (
                "application/sdp;a=[::1]",
                ParamsError::InvalidValue("a".into()).into(),
            ),
            (
                "application/sdp;a=\"open",
                ParamsError::InvalidValue("a".into()).into(),
            ),
        ];
        for (input, err) in rows {
            assert_eq!(ContentType::parse(input), Err(err), "{input:?}");
        }
    }
}
