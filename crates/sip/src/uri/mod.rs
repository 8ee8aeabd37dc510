//! URIs as SIP carries them: `sip:` and `sips:` (RFC 3261 §19.1, grammar in §25.1), `tel:`
//! (RFC 3966), and any other absolute URI kept opaque so that a caller can answer
//! `416 Unsupported URI Scheme`. IPv6 references follow RFC 5118.
//!
//! Parsing keeps the spelling of user parts, parameters and headers (escapes included), so a
//! parsed URI writes back the way it came in, apart from the scheme, which is written in lower
//! case, and IP addresses, which are written in their canonical form. [`Uri::equivalent`]
//! implements the comparison rules of RFC 3261 §19.1.4 (and RFC 3966 §4 for `tel:`).

mod equiv;
mod host;
mod sip;
mod tel;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use crate::params::Params;

pub use host::Host;
pub(crate) use host::{parse_hostport, parse_ipv4, parse_port};

/// A URI found in a request line or a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    /// A `sip:` or `sips:` URI.
    Sip(SipUri),
    /// A `tel:` URI.
    Tel(TelUri),
    /// Any other absolute URI, kept as written.
    Other(OtherUri),
}

/// A `sip:` or `sips:` URI (RFC 3261 §19.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// The user part as written, escapes kept (see [`SipUri::user_unescaped`]).
    pub user: Option<String>,
    /// The password as written, escapes kept (RFC 3261 discourages its use).
    pub password: Option<String>,
    /// The host.
    pub host: Host,
    /// The port, when one is written.
    pub port: Option<u16>,
    /// URI parameters (`;transport=tcp;lr`), values as written.
    pub params: Params,
    /// URI headers (`?name=value&...`), both sides as written (escaped).
    pub headers: Vec<(String, String)>,
}

/// A `tel:` URI (RFC 3966 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelUri {
    /// The number as written: `+` and digits for a global number, otherwise a local number
    /// (which then needs a `phone-context` parameter). Visual separators are kept.
    pub number: String,
    /// Parameters (`;phone-context=...;ext=...`), values as written.
    pub params: Params,
}

/// A URI of a scheme callcomp does not interpret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherUri {
    /// The scheme as written.
    pub scheme: String,
    /// Everything after the first `:`, as written.
    pub rest: String,
}

/// Why a URI was refused. Positions are byte offsets into the text given to [`Uri::parse`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// The text is empty.
    #[error("empty URI")]
    Empty,
    /// There is no `scheme:` at the start.
    #[error("URI has no scheme")]
    MissingScheme,
    /// The scheme has characters outside RFC 3986 `scheme` or does not start with a letter.
    #[error("invalid URI scheme {0:?}")]
    BadScheme(String),
    /// Nothing follows the scheme of an opaque URI.
    #[error("nothing after the URI scheme")]
    EmptyBody,
    /// A character the grammar does not allow where it stands.
    #[error("illegal character {ch:?} at position {position} in the URI {part}")]
    IllegalChar {
        /// The offending character.
        ch: char,
        /// Byte offset of the character.
        position: usize,
        /// Which part of the URI was being read (`user`, `parameter`, ...).
        part: &'static str,
    },
    /// A `%` not followed by two hexadecimal digits.
    #[error("bad escape at position {position}: '%' must be followed by two hex digits")]
    BadEscape {
        /// Byte offset of the `%`.
        position: usize,
    },
    /// `@` with nothing before it.
    #[error("empty user part before '@'")]
    EmptyUser,
    /// The host is missing.
    #[error("empty host")]
    EmptyHost,
    /// The host is neither a valid host name nor an IPv4 address.
    #[error("invalid host {0:?}")]
    BadHost(String),
    /// An IPv6 address written without the square brackets a URI needs (RFC 5118 §4.10).
    #[error("IPv6 address {0:?} must be enclosed in '[' and ']'")]
    UnbracketedIpv6(String),
    /// The text between `[` and `]` is not an IPv6 address, or the `]` is missing.
    #[error("invalid IPv6 reference {0:?}")]
    BadIpv6(String),
    /// The port is empty, not decimal, zero, or above 65535.
    #[error("invalid port {0:?} (must be 1 to 65535)")]
    BadPort(String),
    /// A `;` with no parameter after it, or a parameter with an empty name or value.
    #[error("empty URI parameter at position {position}")]
    EmptyParam {
        /// Byte offset of the `;` that starts the parameter.
        position: usize,
    },
    /// A URI header that is not `name=value`, or an empty header list after `?`.
    #[error("URI header at position {position} is not name=value")]
    BadHeader {
        /// Byte offset where the header starts.
        position: usize,
    },
    /// A `tel:` number with no digit, or with characters outside the number grammar.
    #[error("invalid telephone number {0:?}")]
    BadTelNumber(String),
    /// A local `tel:` number without the `phone-context` parameter RFC 3966 §5.1.5 requires.
    #[error("local telephone number without phone-context")]
    MissingPhoneContext,
}

impl Uri {
    /// Parses a URI. `sip`, `sips` and `tel` (any case) are interpreted; any other valid
    /// scheme gives [`Uri::Other`].
    pub fn parse(s: &str) -> Result<Uri, UriError> {
        if s.is_empty() {
            return Err(UriError::Empty);
        }
        let Some(colon) = s.find(':') else {
            return Err(UriError::MissingScheme);
        };
        let scheme = &s[..colon];
        if !is_scheme(scheme) {
            return Err(if scheme.is_empty() {
                UriError::MissingScheme
            } else {
                UriError::BadScheme(scheme.to_string())
            });
        }
        let rest = &s[colon + 1..];
        let base = colon + 1;
        if scheme.eq_ignore_ascii_case("sip") {
            sip::parse(rest, base, false).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("sips") {
            sip::parse(rest, base, true).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            tel::parse(rest, base).map(Uri::Tel)
        } else {
            if rest.is_empty() {
                return Err(UriError::EmptyBody);
            }
            check_chars(rest, base, "body", is_opaque_char)?;
            Ok(Uri::Other(OtherUri {
                scheme: scheme.to_string(),
                rest: rest.to_string(),
            }))
        }
    }

    /// The scheme in lower case for `sip`, `sips` and `tel`, as written otherwise.
    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Tel(_) => "tel",
            Uri::Other(u) => &u.scheme,
        }
    }

    /// The SIP or SIPS URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The SIP or SIPS URI, mutably, if this is one.
    pub fn as_sip_mut(&mut self) -> Option<&mut SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// Whether two URIs are equivalent: RFC 3261 §19.1.4 for SIP and SIPS URIs, RFC 3966 §4
    /// for tel URIs, and for other schemes the same scheme (any case) and the same text.
    pub fn equivalent(&self, other: &Uri) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => equiv::sip(a, b),
            (Uri::Tel(a), Uri::Tel(b)) => equiv::tel(a, b),
            (Uri::Other(a), Uri::Other(b)) => {
                a.scheme.eq_ignore_ascii_case(&b.scheme) && a.rest == b.rest
            }
            _ => false,
        }
    }
}

impl SipUri {
    /// A URI with only a host: `sip:host`.
    pub fn new(host: Host) -> SipUri {
        SipUri {
            secure: false,
            user: None,
            password: None,
            host,
            port: None,
            params: Params::new(),
            headers: Vec::new(),
        }
    }

    /// The user part with its escapes decoded (bytes that are not UTF-8 become U+FFFD).
    pub fn user_unescaped(&self) -> Option<String> {
        self.user
            .as_deref()
            .map(|u| String::from_utf8_lossy(&unescape(u)).into_owned())
    }

    /// Whether the URI has the `lr` parameter (a loose router, RFC 3261 §19.1.1).
    pub fn is_loose(&self) -> bool {
        self.params.contains("lr")
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Tel(u) => u.fmt(f),
            Uri::Other(u) => u.fmt(f),
        }
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(user) = &self.user {
            f.write_str(user)?;
            if let Some(password) = &self.password {
                write!(f, ":{password}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, "{}", self.params)?;
        for (i, (name, value)) in self.headers.iter().enumerate() {
            let sep = if i == 0 { '?' } else { '&' };
            write!(f, "{sep}{name}={value}")?;
        }
        Ok(())
    }
}

impl fmt::Display for TelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tel:{}{}", self.number, self.params)
    }
}

impl fmt::Display for OtherUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.scheme, self.rest)
    }
}

impl FromStr for Uri {
    type Err = UriError;

    fn from_str(s: &str) -> Result<Uri, UriError> {
        Uri::parse(s)
    }
}

impl From<SipUri> for Uri {
    fn from(u: SipUri) -> Uri {
        Uri::Sip(u)
    }
}

/// Decodes `%HH` escapes; a `%` not followed by two hex digits is kept as it is.
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex_val),
                b.get(i + 2).copied().and_then(hex_val),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Escapes text for use as the user part of a SIP URI: every byte outside `unreserved` and
/// `user-unreserved` except `;`, `?` and `/` becomes `%HH`, so the result always parses back
/// to the same user.
pub fn escape_user(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

pub(crate) fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// RFC 3986 `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(s: &str) -> bool {
    let b = s.as_bytes();
    b.first().is_some_and(u8::is_ascii_alphabetic)
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

/// RFC 3261 `unreserved = alphanum / mark`.
pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

/// Characters of an opaque URI body: RFC 3986 unreserved, reserved and `%` (escapes are
/// checked separately). White space, quotes and `<>` are excluded so that the URI can sit
/// between angle brackets or in a request line.
fn is_opaque_char(b: u8) -> bool {
    is_unreserved(b)
        || matches!(
            b,
            b';' | b'/'
                | b'?'
                | b':'
                | b'@'
                | b'&'
                | b'='
                | b'+'
                | b'$'
                | b','
                | b'#'
                | b'['
                | b']'
        )
}

/// Checks that every character of `s` passes `allowed` or is a well-formed `%HH` escape.
/// `base` is the offset of `s` in the whole URI, for error positions.
pub(crate) fn check_chars(
    s: &str,
    base: usize,
    part: &'static str,
    allowed: fn(u8) -> bool,
) -> Result<(), UriError> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let ok = b.get(i + 1).copied().and_then(hex_val).is_some()
                && b.get(i + 2).copied().and_then(hex_val).is_some();
            if !ok {
                return Err(UriError::BadEscape { position: base + i });
            }
            i += 3;
        } else if allowed(b[i]) {
            i += 1;
        } else {
            return first_illegal(&s[i..], base + i, part, allowed);
        }
    }
    Ok(())
}

/// The error for the first character of `s` that `allowed` refuses (or `Ok` if none).
fn first_illegal(
    s: &str,
    base: usize,
    part: &'static str,
    allowed: fn(u8) -> bool,
) -> Result<(), UriError> {
    for (i, ch) in s.char_indices() {
        if !ch.is_ascii() || !allowed(ch as u8) {
            return Err(UriError::IllegalChar {
                ch,
                position: base + i,
                part,
            });
        }
    }
    Ok(())
}
