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
///
/// Called once per header line while indexing, so it avoids copying the name: the first
/// letter picks a short table and the length rules out most of its entries before any
/// case-insensitive comparison.
fn lookup(name: &[u8]) -> Option<HeaderName> {
    let first = name.first()?.to_ascii_lowercase();
    if name.len() == 1 {
        return compact_form(first);
    }
    let table: &[(&[u8], HeaderName)] = match first {
        b'a' => &A_NAMES,
        b'c' => &C_NAMES,
        b'd' => &D_NAMES,
        b'e' => &E_NAMES,
        b'f' => &F_NAMES,
        b'i' => &I_NAMES,
        b'm' => &M_NAMES,
        b'o' => &O_NAMES,
        b'p' => &P_NAMES,
        b'r' => &R_NAMES,
        b's' => &S_NAMES,
        b't' => &T_NAMES,
        b'u' => &U_NAMES,
        b'v' => &V_NAMES,
        b'w' => &W_NAMES,
        _ => return None,
    };
    table
        .iter()
        .find(|(known, _)| known.len() == name.len() && eq_lowercase(name, known))
        .map(|(_, header)| header.clone())
}

/// True when `name` lower-cased equals `known` (already lower case, same length).
///
/// Eight bytes at a time: every known name of eight bytes or more is compared as two or
/// more words, the last one overlapping the one before it.
fn eq_lowercase(name: &[u8], known: &[u8]) -> bool {
    if name.len() < 8 {
        return name
            .iter()
            .zip(known)
            .all(|(a, b)| a.to_ascii_lowercase() == *b);
    }
    let word = |s: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let last = name.len() - 8;
    let mut at = 0;
    loop {
        let at_now = at.min(last);
        if lowercase_word(word(name, at_now)) != word(known, at_now) {
            return false;
        }
        if at_now == last {
            return true;
        }
        at += 8;
    }
}

/// ASCII lower case of eight bytes at once; bytes that are not `A`..=`Z` are kept.
fn lowercase_word(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Per byte, with the high bit cleared first so that no addition carries into the next
    // byte: the high bit of `ge_a` says ">= 'A'", of `gt_z` says "> 'Z'".
    let low7 = x & !HIGH;
    let ge_a = low7 + ONES * (0x80 - u64::from(b'A'));
    let gt_z = low7 + ONES * (0x80 - u64::from(b'Z') - 1);
    // Upper-case letters: >= 'A', not > 'Z', and not a byte with its own high bit set.
    let upper = ge_a & !gt_z & !x & HIGH;
    x | (upper >> 2)
}

/// The header a one-letter compact form (RFC 3261 §7.3.3 and later RFCs) stands for.
fn compact_form(letter: u8) -> Option<HeaderName> {
    Some(match letter {
        b'a' => HeaderName::AcceptContact,
        b'u' => HeaderName::AllowEvents,
        b'i' => HeaderName::CallId,
        b'm' => HeaderName::Contact,
        b'e' => HeaderName::ContentEncoding,
        b'l' => HeaderName::ContentLength,
        b'c' => HeaderName::ContentType,
        b'o' => HeaderName::Event,
        b'f' => HeaderName::From,
        b'y' => HeaderName::Identity,
        b'r' => HeaderName::ReferTo,
        b'b' => HeaderName::ReferredBy,
        b'j' => HeaderName::RejectContact,
        b'x' => HeaderName::SessionExpires,
        b's' => HeaderName::Subject,
        b'k' => HeaderName::Supported,
        b't' => HeaderName::To,
        b'v' => HeaderName::Via,
        _ => return None,
    })
}

static A_NAMES: [(&[u8], HeaderName); 9] = [
    (b"accept", HeaderName::Accept),
    (b"accept-contact", HeaderName::AcceptContact),
    (b"accept-encoding", HeaderName::AcceptEncoding),
    (b"accept-language", HeaderName::AcceptLanguage),
    (b"alert-info", HeaderName::AlertInfo),
    (b"allow", HeaderName::Allow),
    (b"allow-events", HeaderName::AllowEvents),
    (b"authentication-info", HeaderName::AuthenticationInfo),
    (b"authorization", HeaderName::Authorization),
];
static C_NAMES: [(&[u8], HeaderName); 9] = [
    (b"call-id", HeaderName::CallId),
    (b"call-info", HeaderName::CallInfo),
    (b"contact", HeaderName::Contact),
    (b"content-disposition", HeaderName::ContentDisposition),
    (b"content-encoding", HeaderName::ContentEncoding),
    (b"content-language", HeaderName::ContentLanguage),
    (b"content-length", HeaderName::ContentLength),
    (b"content-type", HeaderName::ContentType),
    (b"cseq", HeaderName::CSeq),
];
static D_NAMES: [(&[u8], HeaderName); 1] = [(b"date", HeaderName::Date)];
static E_NAMES: [(&[u8], HeaderName); 3] = [
    (b"error-info", HeaderName::ErrorInfo),
    (b"event", HeaderName::Event),
    (b"expires", HeaderName::Expires),
];
static F_NAMES: [(&[u8], HeaderName); 1] = [(b"from", HeaderName::From)];
static I_NAMES: [(&[u8], HeaderName); 2] = [
    (b"identity", HeaderName::Identity),
    (b"in-reply-to", HeaderName::InReplyTo),
];
static M_NAMES: [(&[u8], HeaderName); 4] = [
    (b"max-forwards", HeaderName::MaxForwards),
    (b"mime-version", HeaderName::MimeVersion),
    (b"min-expires", HeaderName::MinExpires),
    (b"min-se", HeaderName::MinSe),
];
static O_NAMES: [(&[u8], HeaderName); 1] = [(b"organization", HeaderName::Organization)];
static P_NAMES: [(&[u8], HeaderName); 7] = [
    (b"p-asserted-identity", HeaderName::PAssertedIdentity),
    (b"path", HeaderName::Path),
    (b"priority", HeaderName::Priority),
    (b"privacy", HeaderName::Privacy),
    (b"proxy-authenticate", HeaderName::ProxyAuthenticate),
    (b"proxy-authorization", HeaderName::ProxyAuthorization),
    (b"proxy-require", HeaderName::ProxyRequire),
];
static R_NAMES: [(&[u8], HeaderName); 11] = [
    (b"rack", HeaderName::RAck),
    (b"reason", HeaderName::Reason),
    (b"record-route", HeaderName::RecordRoute),
    (b"refer-to", HeaderName::ReferTo),
    (b"referred-by", HeaderName::ReferredBy),
    (b"reject-contact", HeaderName::RejectContact),
    (b"reply-to", HeaderName::ReplyTo),
    (b"require", HeaderName::Require),
    (b"retry-after", HeaderName::RetryAfter),
    (b"route", HeaderName::Route),
    (b"rseq", HeaderName::RSeq),
];
static S_NAMES: [(&[u8], HeaderName); 8] = [
    (b"server", HeaderName::Server),
    (b"service-route", HeaderName::ServiceRoute),
    (b"session-expires", HeaderName::SessionExpires),
    (b"sip-etag", HeaderName::SipEtag),
    (b"sip-if-match", HeaderName::SipIfMatch),
    (b"subject", HeaderName::Subject),
    (b"subscription-state", HeaderName::SubscriptionState),
    (b"supported", HeaderName::Supported),
];
static T_NAMES: [(&[u8], HeaderName); 2] = [
    (b"timestamp", HeaderName::Timestamp),
    (b"to", HeaderName::To),
];
static U_NAMES: [(&[u8], HeaderName); 2] = [
    (b"unsupported", HeaderName::Unsupported),
    (b"user-agent", HeaderName::UserAgent),
];
static V_NAMES: [(&[u8], HeaderName); 1] = [(b"via", HeaderName::Via)];
static W_NAMES: [(&[u8], HeaderName); 2] = [
    (b"warning", HeaderName::Warning),
    (b"www-authenticate", HeaderName::WwwAuthenticate),
];

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
    fn every_known_name_is_found_in_any_case() {
        let tables: [&[(&[u8], HeaderName)]; 15] = [
            &A_NAMES, &C_NAMES, &D_NAMES, &E_NAMES, &F_NAMES, &I_NAMES, &M_NAMES, &O_NAMES,
            &P_NAMES, &R_NAMES, &S_NAMES, &T_NAMES, &U_NAMES, &V_NAMES, &W_NAMES,
        ];
        let mut count = 0;
        for (lower, header) in tables.into_iter().flatten() {
            count += 1;
            assert!(!matches!(header, HeaderName::Extension(_)));
            assert_eq!(&HeaderName::from_bytes(lower), header);
            assert_eq!(&HeaderName::from(header.as_str()), header);
            assert_eq!(
                &HeaderName::from(header.as_str().to_uppercase().as_str()),
                header
            );
            assert!(header.as_str().as_bytes().eq_ignore_ascii_case(lower));
        }
        assert_eq!(count, 63);
        // Near misses stay extensions.
        for near in ["vias", "to-", "call-i", "content-lengthx", "q", "", "x-via"] {
            assert!(
                matches!(HeaderName::from(near), HeaderName::Extension(_)),
                "{near}"
            );
        }
    }

    #[test]
    fn word_lowercasing_matches_ascii_lowercase_for_every_byte() {
        for b in 0..=255u8 {
            let x = u64::from_le_bytes([b, b'Q', b, 0xC1, b'z', b'@', b'[', b]);
            let expected = u64::from_le_bytes(
                [b, b'Q', b, 0xC1, b'z', b'@', b'[', b].map(|c| c.to_ascii_lowercase()),
            );
            assert_eq!(lowercase_word(x), expected, "byte {b}");
        }
        assert!(eq_lowercase(b"Content-Length", b"content-length"));
        assert!(eq_lowercase(b"CONTENT-TYPE", b"content-type"));
        assert!(!eq_lowercase(b"Content-Lengtx", b"content-length"));
        assert!(!eq_lowercase(b"Xontent-Length", b"content-length"));
        // '\r' | 0x20 is '-': a plain OR-with-0x20 compare would wrongly accept this.
        assert!(!eq_lowercase(b"content\rlength", b"content-length"));
        assert!(!eq_lowercase(b"call\rid", b"call-id"));
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
