//! The From and To headers (RFC 3261 §20.20, §20.39): an address plus the dialog `tag`.

use std::ops::{Deref, DerefMut};

use super::{Header, HeaderError};
use crate::header_name::HeaderName;
use crate::name_addr::NameAddr;
use crate::text;

/// The From header: who sent the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From(pub NameAddr);

/// The To header: whom the request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct To(pub NameAddr);

macro_rules! address_with_tag {
    ($ty:ident, $name:expr) => {
        impl $ty {
            /// The `tag` parameter.
            pub fn tag(&self) -> Option<&str> {
                self.0.params.value("tag")
            }

            /// Sets the `tag` parameter, replacing any previous one. The caller passes a
            /// token (RFC 3261 §19.3 tags are random tokens).
            pub fn set_tag(&mut self, tag: &str) {
                self.0.params.set("tag", Some(tag.to_string()));
            }

            /// The same header with `tag` set.
            pub fn with_tag(mut self, tag: &str) -> $ty {
                self.set_tag(tag);
                self
            }
        }

        impl Deref for $ty {
            type Target = NameAddr;

            fn deref(&self) -> &NameAddr {
                &self.0
            }
        }

        impl DerefMut for $ty {
            fn deref_mut(&mut self) -> &mut NameAddr {
                &mut self.0
            }
        }

        impl Header for $ty {
            const NAME: HeaderName = $name;

            fn parse(value: &str) -> Result<$ty, HeaderError> {
                let addr = NameAddr::parse(value)?;
                if let Some(p) = addr.params.get("tag") {
                    if !p.value.as_deref().is_some_and(text::is_token) {
                        return Err(HeaderError::Syntax("tag must be a token"));
                    }
                }
                Ok($ty(addr))
            }

            fn write(&self, out: &mut String) {
                self.0.write(out);
            }
        }
    };
}

address_with_tag!(From, HeaderName::From);
address_with_tag!(To, HeaderName::To);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::Uri;

    #[test]
    fn good_values() {
        // (value, tag, written form)
        let cases: &[(&str, Option<&str>, &str)] = &[
            (
                "Alice <sip:alice@atlanta.example.com>;tag=1928301774",
                Some("1928301774"),
                r#""Alice" <sip:alice@atlanta.example.com>;tag=1928301774"#,
            ),
            (
                "sip:caller@example.net;tag=384",
                Some("384"),
                "<sip:caller@example.net>;tag=384",
            ),
            // RFC 4475 §3.1.1.1 wsinv To value after unfolding.
            (
                "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
                Some("1918181833n"),
                "<sip:vivekg@chair-dnrc.example.com>;tag=1918181833n",
            ),
            // RFC 4475 §3.1.1.3 esc01.
            (
                "sip:%75se%72@example.com",
                None,
                "<sip:%75se%72@example.com>",
            ),
            (
                "<sip:I%20have%20spaces@example.net>;tag=938",
                Some("938"),
                "<sip:I%20have%20spaces@example.net>;tag=938",
            ),
            (
                r#""Bob" <sips:bob@biloxi.com> ;tag=a48s"#,
                Some("a48s"),
                r#""Bob" <sips:bob@biloxi.com>;tag=a48s"#,
            ),
        ];
        for (value, tag, written) in cases {
            let f = From::parse(value).unwrap();
            assert_eq!(f.tag(), *tag, "{value}");
            assert_eq!(f.to_value(), *written, "{value}");
            assert_eq!(From::parse(written), Ok(f), "{value}");
            let t = To::parse(value).unwrap();
            assert_eq!(t.tag(), *tag, "{value}");
            assert_eq!(To::parse(&t.to_value()), Ok(t));
        }
    }

    #[test]
    fn bad_values() {
        let cases: &[(&str, HeaderError)] = &[
            ("", HeaderError::Empty),
            ("<sip:a@b>;tag", HeaderError::Syntax("tag must be a token")),
            (
                r#"<sip:a@b>;tag="x y""#,
                HeaderError::Syntax("tag must be a token"),
            ),
            // RFC 4475 §3.1.2.13 baddn.
            (
                "Watson, Thomas <sip:t.watson@example.org>",
                HeaderError::Syntax("display name is neither tokens nor a quoted string"),
            ),
        ];
        for (value, err) in cases {
            assert_eq!(To::parse(value).as_ref(), Err(err), "{value}");
            assert_eq!(From::parse(value).map(|_| ()), Err(err.clone()), "{value}");
        }
    }

    #[test]
    fn tags_and_deref() {
        let mut to = To::parse("<sip:bob@b.example>").unwrap();
        assert_eq!(to.tag(), None);
        to.set_tag("a6c85cf");
        assert_eq!(to.to_value(), "<sip:bob@b.example>;tag=a6c85cf");
        to.set_tag("b7");
        assert_eq!(to.tag(), Some("b7"));
        assert_eq!(to.params.len(), 1);
        to.display = Some("Bob".into());
        assert_eq!(to.to_value(), r#""Bob" <sip:bob@b.example>;tag=b7"#);
        let from = From(NameAddr::new(Uri::parse("sip:a@b").unwrap())).with_tag("x1");
        assert_eq!(from.to_value(), "<sip:a@b>;tag=x1");
        assert_eq!(from.uri.to_string(), "sip:a@b");
    }
}
