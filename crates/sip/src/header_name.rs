//! Header field names (RFC 3261 §7.3, §20), with the compact forms of §7.3.3.
//!
//! Names compare case-insensitively. Headers callcomp does not know are kept as
//! [`HeaderName::Extension`] with the spelling they arrived with, so a B2BUA can pass them on.

use std::fmt;

/// The name of a header field.
///
/// Known names are variants without data, so matching on them is cheap; any other
/// name is an [`HeaderName::Extension`] and compares case-insensitively.
#[derive(Debug, Clone, Eq)]
#[non_exhaustive]
pub enum HeaderName {
    /// `Accept`.
    Accept,
    /// `Accept-Contact` (compact form `a`).
    AcceptContact,
    /// `Accept-Encoding`.
    AcceptEncoding,
    /// `Accept-Language`.
    AcceptLanguage,
    /// `Alert-Info`.
    AlertInfo,
    /// `Allow`.
    Allow,
    /// `Allow-Events` (compact form `u`).
    AllowEvents,
    /// `Authentication-Info`.
    AuthenticationInfo,
    /// `Authorization`.
    Authorization,
    /// `Call-ID` (compact form `i`).
    CallId,
    /// `Call-Info`.
    CallInfo,
    /// `Contact` (compact form `m`).
    Contact,
    /// `Content-Disposition`.
    ContentDisposition,
    /// `Content-Encoding` (compact form `e`).
    ContentEncoding,
    /// `Content-Language`.
    ContentLanguage,
    /// `Content-Length` (compact form `l`).
    ContentLength,
    /// `Content-Type` (compact form `c`).
    ContentType,
    /// `CSeq`.
    CSeq,
    /// `Date`.
    Date,
    /// `Error-Info`.
    ErrorInfo,
    /// `Event` (compact form `o`).
    Event,
    /// `Expires`.
    Expires,
    /// `From` (compact form `f`).
    From,
    /// `Identity` (compact form `y`).
    Identity,
    /// `In-Reply-To`.
    InReplyTo,
    /// `Max-Forwards`.
    MaxForwards,
    /// `MIME-Version`.
    MimeVersion,
    /// `Min-Expires`.
    MinExpires,
    /// `Min-SE`.
    MinSe,
    /// `Organization`.
    Organization,
    /// `P-Asserted-Identity`.
    PAssertedIdentity,
    /// `Path`.
    Path,
    /// `Priority`.
    Priority,
    /// `Privacy`.
    Privacy,
    /// `Proxy-Authenticate`.
    ProxyAuthenticate,
    /// `Proxy-Authorization`.
    ProxyAuthorization,
    /// `Proxy-Require`.
    ProxyRequire,
    /// `RAck`.
    RAck,
    /// `Reason`.
    Reason,
    /// `Record-Route`.
    RecordRoute,
    /// `Refer-To` (compact form `r`).
    ReferTo,
    /// `Referred-By` (compact form `b`).
    ReferredBy,
    /// `Reject-Contact` (compact form `j`).
    RejectContact,
    /// `Reply-To`.
    ReplyTo,
    /// `Require`.
    Require,
    /// `Retry-After`.
    RetryAfter,
    /// `Route`.
    Route,
    /// `RSeq`.
    RSeq,
    /// `Server`.
    Server,
    /// `Service-Route`.
    ServiceRoute,
    /// `Session-Expires` (compact form `x`).
    SessionExpires,
    /// `SIP-ETag`.
    SipEtag,
    /// `SIP-If-Match`.
    SipIfMatch,
    /// `Subject` (compact form `s`).
    Subject,
    /// `Subscription-State`.
    SubscriptionState,
    /// `Supported` (compact form `k`).
    Supported,
    /// `Timestamp`.
    Timestamp,
    /// `To` (compact form `t`).
    To,
    /// `Unsupported`.
    Unsupported,
    /// `User-Agent`.
    UserAgent,
    /// `Via` (compact form `v`).
    Via,
    /// `Warning`.
    Warning,
    /// `WWW-Authenticate`.
    WwwAuthenticate,
    /// Any other header, as it was spelled.
    Extension(Box<str>),
}

impl HeaderName {
    /// Looks a name up, accepting any case and the compact forms.
    pub fn from_bytes(name: &[u8]) -> HeaderName {
        match lookup(name) {
            Some(known) => known,
            None => HeaderName::Extension(String::from_utf8_lossy(name).into()),
        }
    }

    /// The canonical spelling of the name (the long form for compact names).
    pub fn as_str(&self) -> &str {
        match self {
            HeaderName::Accept => "Accept",
            HeaderName::AcceptContact => "Accept-Contact",
            HeaderName::AcceptEncoding => "Accept-Encoding",
            HeaderName::AcceptLanguage => "Accept-Language",
            HeaderName::AlertInfo => "Alert-Info",
            HeaderName::Allow => "Allow",
            HeaderName::AllowEvents => "Allow-Events",
            HeaderName::AuthenticationInfo => "Authentication-Info",
            HeaderName::Authorization => "Authorization",
            HeaderName::CallId => "Call-ID",
            HeaderName::CallInfo => "Call-Info",
            HeaderName::Contact => "Contact",
            HeaderName::ContentDisposition => "Content-Disposition",
            HeaderName::ContentEncoding => "Content-Encoding",
            HeaderName::ContentLanguage => "Content-Language",
            HeaderName::ContentLength => "Content-Length",
            HeaderName::ContentType => "Content-Type",
            HeaderName::CSeq => "CSeq",
            HeaderName::Date => "Date",
            HeaderName::ErrorInfo => "Error-Info",
            HeaderName::Event => "Event",
            HeaderName::Expires => "Expires",
            HeaderName::From => "From",
            HeaderName::Identity => "Identity",
            HeaderName::InReplyTo => "In-Reply-To",
            HeaderName::MaxForwards => "Max-Forwards",
            HeaderName::MimeVersion => "MIME-Version",
            HeaderName::MinExpires => "Min-Expires",
            HeaderName::MinSe => "Min-SE",
            HeaderName::Organization => "Organization",
            HeaderName::PAssertedIdentity => "P-Asserted-Identity",
            HeaderName::Path => "Path",
            HeaderName::Priority => "Priority",
            HeaderName::Privacy => "Privacy",
            HeaderName::ProxyAuthenticate => "Proxy-Authenticate",
            HeaderName::ProxyAuthorization => "Proxy-Authorization",
            HeaderName::ProxyRequire => "Proxy-Require",
            HeaderName::RAck => "RAck",
            HeaderName::Reason => "Reason",
            HeaderName::RecordRoute => "Record-Route",
            HeaderName::ReferTo => "Refer-To",
            HeaderName::ReferredBy => "Referred-By",
            HeaderName::RejectContact => "Reject-Contact",
            HeaderName::ReplyTo => "Reply-To",
            HeaderName::Require => "Require",
            HeaderName::RetryAfter => "Retry-After",
            HeaderName::Route => "Route",
            HeaderName::RSeq => "RSeq",
            HeaderName::Server => "Server",
            HeaderName::ServiceRoute => "Service-Route",
            HeaderName::SessionExpires => "Session-Expires",
            HeaderName::SipEtag => "SIP-ETag",
            HeaderName::SipIfMatch => "SIP-If-Match",
            HeaderName::Subject => "Subject",
            HeaderName::SubscriptionState => "Subscription-State",
            HeaderName::Supported => "Supported",
            HeaderName::Timestamp => "Timestamp",
            HeaderName::To => "To",
            HeaderName::Unsupported => "Unsupported",
            HeaderName::UserAgent => "User-Agent",
            HeaderName::Via => "Via",
            HeaderName::Warning => "Warning",
            HeaderName::WwwAuthenticate => "WWW-Authenticate",
            HeaderName::Extension(name) => name,
        }
    }

    /// The compact form (RFC 3261 §7.3.3 and the extensions that define one), if any.
    pub fn compact(&self) -> Option<char> {
        match self {
            HeaderName::AcceptContact => Some('a'),
            HeaderName::AllowEvents => Some('u'),
            HeaderName::CallId => Some('i'),
            HeaderName::Contact => Some('m'),
            HeaderName::ContentEncoding => Some('e'),
            HeaderName::ContentLength => Some('l'),
            HeaderName::ContentType => Some('c'),
            HeaderName::Event => Some('o'),
            HeaderName::From => Some('f'),
            HeaderName::Identity => Some('y'),
            HeaderName::ReferTo => Some('r'),
            HeaderName::ReferredBy => Some('b'),
            HeaderName::RejectContact => Some('j'),
            HeaderName::SessionExpires => Some('x'),
            HeaderName::Subject => Some('s'),
            HeaderName::Supported => Some('k'),
            HeaderName::To => Some('t'),
            HeaderName::Via => Some('v'),
            _ => None,
        }
    }
}

/// Maps a name to a known header without allocating; `None` for extension headers.
fn lookup(name: &[u8]) -> Option<HeaderName> {
    let mut buf = [0u8; 24];
    if name.is_empty() || name.len() > buf.len() {
        return None;
    }
    for (dst, src) in buf.iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    Some(match &buf[..name.len()] {
        b"accept" => HeaderName::Accept,
        b"accept-contact" | b"a" => HeaderName::AcceptContact,
        b"accept-encoding" => HeaderName::AcceptEncoding,
        b"accept-language" => HeaderName::AcceptLanguage,
        b"alert-info" => HeaderName::AlertInfo,
        b"allow" => HeaderName::Allow,
        b"allow-events" | b"u" => HeaderName::AllowEvents,
        b"authentication-info" => HeaderName::AuthenticationInfo,
        b"authorization" => HeaderName::Authorization,
        b"call-id" | b"i" => HeaderName::CallId,
        b"call-info" => HeaderName::CallInfo,
        b"contact" | b"m" => HeaderName::Contact,
        b"content-disposition" => HeaderName::ContentDisposition,
        b"content-encoding" | b"e" => HeaderName::ContentEncoding,
        b"content-language" => HeaderName::ContentLanguage,
        b"content-length" | b"l" => HeaderName::ContentLength,
        b"content-type" | b"c" => HeaderName::ContentType,
        b"cseq" => HeaderName::CSeq,
        b"date" => HeaderName::Date,
        b"error-info" => HeaderName::ErrorInfo,
        b"event" | b"o" => HeaderName::Event,
        b"expires" => HeaderName::Expires,
        b"from" | b"f" => HeaderName::From,
        b"identity" | b"y" => HeaderName::Identity,
        b"in-reply-to" => HeaderName::InReplyTo,
        b"max-forwards" => HeaderName::MaxForwards,
        b"mime-version" => HeaderName::MimeVersion,
        b"min-expires" => HeaderName::MinExpires,
        b"min-se" => HeaderName::MinSe,
        b"organization" => HeaderName::Organization,
        b"p-asserted-identity" => HeaderName::PAssertedIdentity,
        b"path" => HeaderName::Path,
        b"priority" => HeaderName::Priority,
        b"privacy" => HeaderName::Privacy,
        b"proxy-authenticate" => HeaderName::ProxyAuthenticate,
        b"proxy-authorization" => HeaderName::ProxyAuthorization,
        b"proxy-require" => HeaderName::ProxyRequire,
        b"rack" => HeaderName::RAck,
        b"reason" => HeaderName::Reason,
        b"record-route" => HeaderName::RecordRoute,
        b"refer-to" | b"r" => HeaderName::ReferTo,
        b"referred-by" | b"b" => HeaderName::ReferredBy,
        b"reject-contact" | b"j" => HeaderName::RejectContact,
        b"reply-to" => HeaderName::ReplyTo,
        b"require" => HeaderName::Require,
        b"retry-after" => HeaderName::RetryAfter,
        b"route" => HeaderName::Route,
        b"rseq" => HeaderName::RSeq,
        b"server" => HeaderName::Server,
        b"service-route" => HeaderName::ServiceRoute,
        b"session-expires" | b"x" => HeaderName::SessionExpires,
        b"sip-etag" => HeaderName::SipEtag,
        b"sip-if-match" => HeaderName::SipIfMatch,
        b"subject" | b"s" => HeaderName::Subject,
        b"subscription-state" => HeaderName::SubscriptionState,
        b"supported" | b"k" => HeaderName::Supported,
        b"timestamp" => HeaderName::Timestamp,
        b"to" | b"t" => HeaderName::To,
        b"unsupported" => HeaderName::Unsupported,
        b"user-agent" => HeaderName::UserAgent,
        b"via" | b"v" => HeaderName::Via,
        b"warning" => HeaderName::Warning,
        b"www-authenticate" => HeaderName::WwwAuthenticate,
        _ => return None,
    })
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &HeaderName) -> bool {
        match (self, other) {
            (HeaderName::Extension(a), HeaderName::Extension(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

impl std::hash::Hash for HeaderName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        if let HeaderName::Extension(name) = self {
            for b in name.bytes() {
                state.write_u8(b.to_ascii_lowercase());
            }
        }
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for HeaderName {
    fn from(name: &str) -> HeaderName {
        HeaderName::from_bytes(name.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_case_insensitive_names() {
        for (compact, long) in [
            ("i", HeaderName::CallId),
            ("m", HeaderName::Contact),
            ("e", HeaderName::ContentEncoding),
            ("l", HeaderName::ContentLength),
            ("c", HeaderName::ContentType),
            ("f", HeaderName::From),
            ("t", HeaderName::To),
            ("v", HeaderName::Via),
            ("k", HeaderName::Supported),
            ("s", HeaderName::Subject),
            ("o", HeaderName::Event),
            ("u", HeaderName::AllowEvents),
            ("r", HeaderName::ReferTo),
            ("x", HeaderName::SessionExpires),
            ("y", HeaderName::Identity),
            ("b", HeaderName::ReferredBy),
            ("j", HeaderName::RejectContact),
            ("a", HeaderName::AcceptContact),
        ] {
            assert_eq!(HeaderName::from(compact), long, "{compact}");
            assert_eq!(HeaderName::from(compact.to_uppercase().as_str()), long);
            assert_eq!(long.compact().map(String::from), Some(compact.to_string()));
        }
        assert_eq!(HeaderName::from("cALL-iD"), HeaderName::CallId);
        assert_eq!(
            HeaderName::from("WWW-Authenticate").as_str(),
            "WWW-Authenticate"
        );
    }

    #[test]
    fn extension_names_keep_spelling_and_compare_ignoring_case() {
        let name = HeaderName::from("X-Foo-Bar");
        assert_eq!(name.as_str(), "X-Foo-Bar");
        assert_eq!(name, HeaderName::from("x-foo-bar"));
        assert_ne!(name, HeaderName::Via);
        assert_ne!(
            HeaderName::from("NewFangledHeader"),
            HeaderName::from("X-Other")
        );
    }
}
