//! Route, Record-Route (RFC 3261 §20.30, §20.34) and Path (RFC 3327): lists of
//! `name-addr` values, the URI always in angle brackets.

use std::ops::{Deref, DerefMut};

use super::{Header, HeaderError};
use crate::header_name::HeaderName;
use crate::name_addr::NameAddr;

/// One Route value: a hop the request must visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route(pub NameAddr);

/// One Record-Route value: a proxy that wants to stay on the dialog's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRoute(pub NameAddr);

/// One Path value (RFC 3327): a proxy on the path between a registrar and a user agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(pub NameAddr);

macro_rules! route_like {
    ($ty:ident, $name:expr) => {
        impl $ty {
            /// Whether the URI carries `lr`: the hop is a loose router (RFC 3261 §16.12).
            pub fn is_loose(&self) -> bool {
                self.0.uri.as_sip().is_some_and(|u| u.is_loose())
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
            const LIST: bool = true;

            fn parse(value: &str) -> Result<$ty, HeaderError> {
                NameAddr::parse_bracketed(value).map($ty)
            }

            fn write(&self, out: &mut String) {
                self.0.write(out);
            }
        }
    };
}

route_like!(Route, HeaderName::Route);
route_like!(RecordRoute, HeaderName::RecordRoute);
route_like!(Path, HeaderName::Path);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::UriError;

    #[test]
    fn good_values() {
        // (value, loose, written form)
        let cases: &[(&str, bool, &str)] = &[
            ("<sip:p1.example.com;lr>", true, "<sip:p1.example.com;lr>"),
            (
                "<sip:p2.domain.com;LR=on>",
                true,
                "<sip:p2.domain.com;LR=on>",
            ),
            // RFC 4475 §3.1.1.x: maddr in Record-Route.
            (
                "<sip:UserB@example.com;maddr=ss1.example.com>",
                false,
                "<sip:UserB@example.com;maddr=ss1.example.com>",
            ),
            (
                r#""Proxy" <sips:[2001:db8::1]:5061;lr>;x=1"#,
                true,
                r#""Proxy" <sips:[2001:db8::1]:5061;lr>;x=1"#,
            ),
            ("  <sip:10.0.0.1>  ", false, "<sip:10.0.0.1>"),
            ("<tel:+1234>", false, "<tel:+1234>"),
        ];
        for (value, loose, written) in cases {
            let r = Route::parse(value).unwrap();
            assert_eq!(r.is_loose(), *loose, "{value}");
            assert_eq!(r.to_value(), *written, "{value}");
            assert_eq!(Route::parse(written), Ok(r), "{value}");
            let rr = RecordRoute::parse(value).unwrap();
            assert_eq!(rr.is_loose(), *loose);
            assert_eq!(RecordRoute::parse(&rr.to_value()), Ok(rr));
            let p = Path::parse(value).unwrap();
            assert_eq!(Path::parse(&p.to_value()), Ok(p));
        }
        const { assert!(Route::LIST && RecordRoute::LIST && Path::LIST) };
    }

    #[test]
    fn bad_values() {
        let cases: &[(&str, HeaderError)] = &[
            ("", HeaderError::Empty),
            (
                "sip:p1.example.com;lr",
                HeaderError::Syntax("the URI must be enclosed in '<' and '>'"),
            ),
            (
                "<sip:p1.example.com;lr",
                HeaderError::Syntax("'<' without a closing '>'"),
            ),
            (
                "<sip:p1.example.com:99999>",
                HeaderError::Uri(UriError::BadPort("99999".into())),
            ),
        ];
        for (value, err) in cases {
            assert_eq!(Route::parse(value).as_ref(), Err(err), "{value}");
            assert_eq!(Path::parse(value).map(|_| ()), Err(err.clone()), "{value}");
        }
    }
}
