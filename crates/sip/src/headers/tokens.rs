//! The list headers whose elements are single tokens: `Allow` (RFC 3261 §20.5), `Supported`
//! (§20.37), `Require` (§20.32), `Proxy-Require` (§20.29) and `Unsupported` (§20.40).
//!
//! Each type is one element; the message splits the comma-separated list (`LIST = true`)
//! and an empty header (`Supported:`) yields no elements. Option tags compare
//! case-sensitively like methods do, so they are kept exactly as written.

use crate::header_name::HeaderName;
use crate::headers::{Header, HeaderError};
use crate::method::Method;
use crate::text;

/// One `Allow` element: a method the sender supports.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Allow(pub Method);

impl Header for Allow {
    const NAME: HeaderName = HeaderName::Allow;
    const LIST: bool = true;

    fn parse(value: &str) -> Result<Allow, HeaderError> {
        let value = text::trim_wsp(value);
        if value.is_empty() {
            return Err(HeaderError::Empty);
        }
        Method::parse(value.as_bytes())
            .map(Allow)
            .ok_or(HeaderError::Syntax("Allow element must be a method token"))
    }

    fn write(&self, out: &mut String) {
        out.push_str(self.0.as_str());
    }
}

/// Declares a list header whose element is one option tag (a `token`).
macro_rules! option_tag_header {
    ($(#[$doc:meta])* $ty:ident, $name:ident, $err:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $ty(pub String);

        impl $ty {
            /// The option tag as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Header for $ty {
            const NAME: HeaderName = HeaderName::$name;
            const LIST: bool = true;

            fn parse(value: &str) -> Result<$ty, HeaderError> {
                parse_tag(value, $err).map($ty)
            }

            fn write(&self, out: &mut String) {
                out.push_str(&self.0);
            }
        }
    };
}

option_tag_header!(
    /// One `Supported` element: an extension the sender supports (`100rel`, `timer`).
    Supported,
    Supported,
    "Supported element must be a token"
);
option_tag_header!(
    /// One `Require` element: an extension the recipient must support.
    Require,
    Require,
    "Require element must be a token"
);
option_tag_header!(
    /// One `Proxy-Require` element: an extension every proxy must support.
    ProxyRequire,
    ProxyRequire,
    "Proxy-Require element must be a token"
);
option_tag_header!(
    /// One `Unsupported` element: a required extension the responder lacks (in a 420).
    Unsupported,
    Unsupported,
    "Unsupported element must be a token"
);

fn parse_tag(value: &str, err: &'static str) -> Result<String, HeaderError> {
    let value = text::trim_wsp(value);
    if value.is_empty() {
        return Err(HeaderError::Empty);
    }
    if !text::is_token(value) {
        return Err(HeaderError::Syntax(err));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_table() {
        let rows = [
            ("INVITE", Ok(Allow(Method::Invite))),
            (" SUBSCRIBE ", Ok(Allow(Method::Subscribe))),
            ("FOO-BAR", Ok(Allow(Method::Extension("FOO-BAR".into())))),
            ("", Err(HeaderError::Empty)),
            (
                "IN VITE",
                Err(HeaderError::Syntax("Allow element must be a method token")),
            ),
            (
                "INVITE;x",
                Err(HeaderError::Syntax("Allow element must be a method token")),
            ),
        ];
        for (input, expected) in rows {
            assert_eq!(Allow::parse(input), expected, "{input:?}");
        }
        assert_eq!(Allow(Method::Notify).to_value(), "NOTIFY");
    }

    #[test]
    fn option_tag_tables() {
        for tag in ["100rel", "timer", "gruu", "x-Vendor.ext!"] {
            assert_eq!(Supported::parse(tag), Ok(Supported(tag.into())));
            assert_eq!(Require::parse(tag), Ok(Require(tag.into())));
            assert_eq!(ProxyRequire::parse(tag), Ok(ProxyRequire(tag.into())));
            assert_eq!(Unsupported::parse(tag), Ok(Unsupported(tag.into())));
            assert_eq!(Supported(tag.into()).to_value(), tag);
        }
        assert_eq!(
            Supported::parse("  timer\t").map(|s| s.0),
            Ok("timer".into())
        );
        for bad in ["a b", "a,b", "a;b", "\"x\"", "caf\u{e9}"] {
            assert_eq!(
                Supported::parse(bad),
                Err(HeaderError::Syntax("Supported element must be a token")),
                "{bad:?}"
            );
            assert_eq!(
                ProxyRequire::parse(bad),
                Err(HeaderError::Syntax("Proxy-Require element must be a token"))
            );
        }
        assert_eq!(Require::parse(""), Err(HeaderError::Empty));
        assert_eq!(Unsupported::parse(" "), Err(HeaderError::Empty));
    }

    #[test]
    fn list_headers_from_a_message() {
        use crate::message::Message;
        use crate::parse::Limits;
        let m = Message::parse_datagram(
            b"OPTIONS sip:a@b SIP/2.0\r\nAllow: INVITE, ACK,BYE\r\nAllow: NOTIFY\r\nSupported: timer, 100rel\r\nk: path\r\nContent-Length: 0\r\n\r\n",
            &Limits::default(),
        )
        .unwrap();
        let allow: Vec<_> = m
            .header_all::<Allow>()
            .unwrap()
            .into_iter()
            .map(|a| a.0)
            .collect();
        assert_eq!(
            allow,
            [Method::Invite, Method::Ack, Method::Bye, Method::Notify]
        );
        let supported: Vec<_> = m
            .header_all::<Supported>()
            .unwrap()
            .into_iter()
            .map(|s| s.0)
            .collect();
        assert_eq!(supported, ["timer", "100rel", "path"]);
    }
}
