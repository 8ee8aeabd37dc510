//! `SIP-ETag` and `SIP-If-Match` (RFC 3903 §11.3.1 and §11.3.2): the entity tag a PUBLISH
//! creates and the one a refresh, modification or removal names.
//!
//! `entity-tag = token`; tags compare byte for byte, so they are kept as written.

use crate::header_name::HeaderName;
use crate::headers::{Header, HeaderError};
use crate::text;

/// A `SIP-ETag` value: the entity tag the presence agent assigned to published state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SipETag(pub String);

/// A `SIP-If-Match` value: the entity tag a PUBLISH refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SipIfMatch(pub String);

impl Header for SipETag {
    const NAME: HeaderName = HeaderName::SipEtag;

    fn parse(value: &str) -> Result<SipETag, HeaderError> {
        parse_entity_tag(value).map(SipETag)
    }

    fn write(&self, out: &mut String) {
        out.push_str(&self.0);
    }
}

impl Header for SipIfMatch {
    const NAME: HeaderName = HeaderName::SipIfMatch;

    fn parse(value: &str) -> Result<SipIfMatch, HeaderError> {
        parse_entity_tag(value).map(SipIfMatch)
    }

    fn write(&self, out: &mut String) {
        out.push_str(&self.0);
    }
}

fn parse_entity_tag(value: &str) -> Result<String, HeaderError> {
    let value = text::trim_wsp(value);
    if value.is_empty() {
        return Err(HeaderError::Empty);
    }
    if !text::is_token(value) {
        return Err(HeaderError::Syntax(
            "entity tag must be a token (RFC 3903 §11.3)",
        ));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_tags() {
        for tag in ["dx200xyz", "kwj449x", "A.b-C_1!%*+`'~"] {
            let e = SipETag::parse(tag).unwrap();
            assert_eq!(e.0, tag);
            assert_eq!(SipETag::parse(&e.to_value()), Ok(e));
            let m = SipIfMatch::parse(&format!(" {tag} ")).unwrap();
            assert_eq!(m.0, tag);
            assert_eq!(SipIfMatch::parse(&m.to_value()), Ok(m));
        }
        let bad = HeaderError::Syntax("entity tag must be a token (RFC 3903 §11.3)");
        for input in ["a b", "\"quoted\"", "a,b", "a;b", "a/b"] {
            assert_eq!(SipETag::parse(input), Err(bad.clone()), "{input:?}");
            assert_eq!(SipIfMatch::parse(input), Err(bad.clone()), "{input:?}");
        }
        assert_eq!(SipETag::parse(""), Err(HeaderError::Empty));
        assert_ne!(SipETag::parse("abc"), SipETag::parse("ABC"));
    }
}
