//! `Call-ID` (RFC 3261 §20.8): the identifier shared by every message of a dialog or of a
//! registration.
//!
//! The grammar is `word [ "@" word ]` (§25.1). Call-IDs compare byte for byte, case
//! included (§19.3), so the value is kept exactly as received.

use crate::header_name::HeaderName;
use crate::headers::{Header, HeaderError};
use crate::text;

/// A `Call-ID` value, as written on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallId(pub String);

impl CallId {
    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Header for CallId {
    const NAME: HeaderName = HeaderName::CallId;

    /// Accepts `word` or `word@word`; white space inside the value, a second `@` or an empty
    /// side of the `@` is an error.
    fn parse(value: &str) -> Result<CallId, HeaderError> {
        let value = text::trim_wsp(value);
        if value.is_empty() {
            return Err(HeaderError::Empty);
        }
        let mut parts = value.split('@');
        let valid = parts.by_ref().take(2).all(is_word) && parts.next().is_none();
        if !valid {
            return Err(HeaderError::Syntax(
                "Call-ID must be word or word@word (RFC 3261 §25.1)",
            ));
        }
        Ok(CallId(value.to_string()))
    }

    fn write(&self, out: &mut String) {
        out.push_str(&self.0);
    }
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(text::is_word_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_values() {
        let rows = [
            (
                "a84b4c76e66710@pc33.atlanta.example.com",
                "a84b4c76e66710@pc33.atlanta.example.com",
            ),
            (
                "  f81d4fae-7dec-11d0-a765-00a0c91e6bf6  ",
                "f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
            ),
            // RFC 4475 §3.1.1.2 (intmeth.dat): every word character is allowed.
            (
                "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{",
                "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{",
            ),
            ("CaseKept@Host", "CaseKept@Host"),
        ];
        for (input, expected) in rows {
            let id = CallId::parse(input).unwrap();
            assert_eq!(id.as_str(), expected, "{input:?}");
            assert_eq!(CallId::parse(&id.to_value()).unwrap(), id);
        }
    }

    #[test]
    fn bad_values() {
        assert_eq!(CallId::parse(""), Err(HeaderError::Empty));
        assert_eq!(CallId::parse(" \t "), Err(HeaderError::Empty));
        for input in [
            "a b",
            "a\tb@c",
            "a@b@c",
            "@b",
            "a@",
            "@",
            "a;b",
            "a,b",
            "caf\u{e9}",
        ] {
            assert!(
                matches!(CallId::parse(input), Err(HeaderError::Syntax(_))),
                "{input:?}"
            );
        }
    }

    #[test]
    fn comparison_is_case_sensitive() {
        assert_ne!(
            CallId::parse("abc@x").unwrap(),
            CallId::parse("ABC@x").unwrap()
        );
    }
}
