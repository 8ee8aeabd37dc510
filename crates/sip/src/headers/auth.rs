//! Authentication header fields (RFC 3261 §20.7, §20.27, §20.28, §20.44, §25.1;
//! RFC 7616 §3.3, §3.4; RFC 8760).
//!
//! `WWW-Authenticate` and `Proxy-Authenticate` carry a [`Challenge`]; `Authorization` and
//! `Proxy-Authorization` carry [`Credentials`]. Both are an auth scheme followed by
//! comma-separated `name=value` auth-params, where a value is a token or a quoted-string.
//!
//! These are *not* list headers at the line level: the commas inside one value separate the
//! auth-params of a single challenge, so [`Header::LIST`] is `false` and a message with several
//! challenges carries several header lines (RFC 3261 §7.3.1 names them as the exception).
//!
//! What the parser accepts, beyond the strict grammar: white space around `=` and `,`, tabs,
//! empty list elements (`a=1,,b=2`, as RFC 9110 §5.6.1 asks recipients to tolerate), quoted
//! values where the grammar wants a token (`algorithm="MD5"`, `qop="auth"` in credentials) and
//! parameter names in any case. It refuses a missing scheme, a scheme without parameters,
//! a parameter without `=value`, an unterminated quoted-string, control characters in values and
//! the same parameter twice. Unknown parameters are kept, in order, and written back.
//!
//! Writers quote what RFC 3261 §25.1 and RFC 7616 quote — `realm`, `domain`, `nonce`, `opaque`
//! and the `qop` options list in challenges; `username`, `realm`, `nonce`, `uri`, `response`,
//! `cnonce` and `opaque` in credentials — and leave `algorithm`, `stale`, `nc`, `userhash` and
//! the credentials' `qop` bare. Unknown parameters keep the form they were parsed with.
//!
//! Not supported: the RFC 7616 `username*` extended notation is kept as an unknown parameter
//! but not decoded; token68 forms (`Authorization: Bearer abc=`) are refused, SIP has none.

use std::fmt;
use std::ops::{Deref, DerefMut};

use crate::header_name::HeaderName;
use crate::headers::{Header, HeaderError};
use crate::text::{eq_ignore_case, is_token, is_token_char, is_wsp, read_quoted, write_quoted};

/// One `name=value` auth-param.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParam {
    /// The parameter name as written (compared case-insensitively).
    pub name: String,
    /// The value, unescaped when it was a quoted-string.
    pub value: String,
    /// Whether the value is written as a quoted-string. Parsing and `set` fill it in by the
    /// RFC 7616 rule for known names (whatever form was received) and keep the received form
    /// for unknown ones; the writer still quotes a value that is not a token.
    pub quoted: bool,
}

/// A challenge: what `WWW-Authenticate` and `Proxy-Authenticate` carry (RFC 3261 §25.1
/// `challenge`, RFC 7616 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth scheme, e.g. `Digest` (compared case-insensitively).
    pub scheme: String,
    /// The auth-params in order.
    pub params: Vec<AuthParam>,
}

/// Credentials: what `Authorization` and `Proxy-Authorization` carry (RFC 3261 §25.1
/// `credentials`, RFC 7616 §3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The auth scheme, e.g. `Digest` (compared case-insensitively).
    pub scheme: String,
    /// The auth-params in order.
    pub params: Vec<AuthParam>,
}

/// The `WWW-Authenticate` header (RFC 3261 §20.44): a challenge from a UAS or registrar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WwwAuthenticate(pub Challenge);

/// The `Proxy-Authenticate` header (RFC 3261 §20.27): a challenge from a proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyAuthenticate(pub Challenge);

/// The `Authorization` header (RFC 3261 §20.7): credentials for a UAS or registrar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization(pub Credentials);

/// The `Proxy-Authorization` header (RFC 3261 §20.28): credentials for a proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyAuthorization(pub Credentials);

impl AuthParam {
    /// A parameter of unknown role; `quoted` is set when the value cannot be written as a
    /// token. Prefer [`Challenge::set`] and [`Credentials::set`], which apply the quoting rule.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> AuthParam {
        let value = value.into();
        AuthParam {
            name: name.into(),
            quoted: !is_token(&value),
            value,
        }
    }
}

impl Challenge {
    /// An empty `Digest` challenge, to be filled with [`Challenge::set`].
    pub fn digest() -> Challenge {
        Challenge {
            scheme: "Digest".to_string(),
            params: Vec::new(),
        }
    }

    /// Parses one challenge value.
    pub fn parse(value: &str) -> Result<Challenge, HeaderError> {
        let (scheme, params) = parse_scheme_and_params(value, Kind::Challenge)?;
        Ok(Challenge { scheme, params })
    }

    /// Writes the challenge in wire form.
    pub fn write(&self, out: &mut String) {
        write_scheme_and_params(out, &self.scheme, &self.params, Kind::Challenge);
    }

    /// True when the scheme is `Digest`.
    pub fn is_digest(&self) -> bool {
        eq_ignore_case(&self.scheme, "Digest")
    }

    /// The value of the parameter `name` (case-insensitive), unescaped.
    pub fn get(&self, name: &str) -> Option<&str> {
        get(&self.params, name)
    }

    /// Sets `name` to `value`, replacing an existing parameter of that name or appending.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        set(&mut self.params, name, value.into(), Kind::Challenge);
    }

    /// `realm`: the protection space.
    pub fn realm(&self) -> Option<&str> {
        self.get("realm")
    }

    /// `domain`: the space-separated URIs the challenge covers.
    pub fn domain(&self) -> Option<&str> {
        self.get("domain")
    }

    /// `nonce`: the server's nonce.
    pub fn nonce(&self) -> Option<&str> {
        self.get("nonce")
    }

    /// `opaque`: data the client must return unchanged.
    pub fn opaque(&self) -> Option<&str> {
        self.get("opaque")
    }

    /// `algorithm` as written (absent means MD5, RFC 7616 §3.3).
    pub fn algorithm(&self) -> Option<&str> {
        self.get("algorithm")
    }

    /// `qop`: the raw comma-separated list of offered qop options.
    pub fn qop(&self) -> Option<&str> {
        self.get("qop")
    }

    /// The offered qop options, trimmed, empty entries skipped.
    pub fn qop_options(&self) -> impl Iterator<Item = &str> {
        self.qop()
            .unwrap_or("")
            .split(',')
            .map(crate::text::trim_wsp)
            .filter(|s| !s.is_empty())
    }

    /// `stale`: true when the previous nonce was refused only for being stale.
    pub fn stale(&self) -> bool {
        self.get("stale").is_some_and(|v| eq_ignore_case(v, "true"))
    }

    /// `userhash`: true when the server accepts a hashed username (RFC 7616 §3.4.4).
    pub fn userhash(&self) -> bool {
        self.get("userhash")
            .is_some_and(|v| eq_ignore_case(v, "true"))
    }
}

impl Credentials {
    /// Empty `Digest` credentials, to be filled with [`Credentials::set`].
    pub fn digest() -> Credentials {
        Credentials {
            scheme: "Digest".to_string(),
            params: Vec::new(),
        }
    }

    /// Parses one credentials value.
    pub fn parse(value: &str) -> Result<Credentials, HeaderError> {
        let (scheme, params) = parse_scheme_and_params(value, Kind::Credentials)?;
        Ok(Credentials { scheme, params })
    }

    /// Writes the credentials in wire form.
    pub fn write(&self, out: &mut String) {
        write_scheme_and_params(out, &self.scheme, &self.params, Kind::Credentials);
    }

    /// True when the scheme is `Digest`.
    pub fn is_digest(&self) -> bool {
        eq_ignore_case(&self.scheme, "Digest")
    }

    /// The value of the parameter `name` (case-insensitive), unescaped.
    pub fn get(&self, name: &str) -> Option<&str> {
        get(&self.params, name)
    }

    /// Sets `name` to `value`, replacing an existing parameter of that name or appending.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        set(&mut self.params, name, value.into(), Kind::Credentials);
    }

    /// `username` (or its hash when [`Credentials::userhash`] is true).
    pub fn username(&self) -> Option<&str> {
        self.get("username")
    }

    /// `realm`, echoed from the challenge.
    pub fn realm(&self) -> Option<&str> {
        self.get("realm")
    }

    /// `nonce`, echoed from the challenge.
    pub fn nonce(&self) -> Option<&str> {
        self.get("nonce")
    }

    /// `uri`: the digest-uri the response covers (the Request-URI in SIP).
    pub fn uri(&self) -> Option<&str> {
        self.get("uri")
    }

    /// `response`: the request digest in hex.
    pub fn response(&self) -> Option<&str> {
        self.get("response")
    }

    /// `algorithm` as written (absent means MD5).
    pub fn algorithm(&self) -> Option<&str> {
        self.get("algorithm")
    }

    /// `cnonce`: the client nonce.
    pub fn cnonce(&self) -> Option<&str> {
        self.get("cnonce")
    }

    /// `opaque`, echoed from the challenge.
    pub fn opaque(&self) -> Option<&str> {
        self.get("opaque")
    }

    /// `qop`: the single qop option the client chose.
    pub fn qop(&self) -> Option<&str> {
        self.get("qop")
    }

    /// `nc`: the nonce count as written (8 hex digits when well formed).
    pub fn nc(&self) -> Option<&str> {
        self.get("nc")
    }

    /// `userhash`: true when `username` is a hash (RFC 7616 §3.4.4).
    pub fn userhash(&self) -> bool {
        self.get("userhash")
            .is_some_and(|v| eq_ignore_case(v, "true"))
    }
}

impl fmt::Display for Challenge {
    /// The wire form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write(&mut out);
        f.write_str(&out)
    }
}

impl fmt::Display for Credentials {
    /// The wire form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write(&mut out);
        f.write_str(&out)
    }
}

macro_rules! auth_header {
    ($ty:ident, $inner:ident, $name:ident) => {
        impl Header for $ty {
            const NAME: HeaderName = HeaderName::$name;
            const LIST: bool = false;

            fn parse(value: &str) -> Result<Self, HeaderError> {
                $inner::parse(value).map($ty)
            }

            fn write(&self, out: &mut String) {
                self.0.write(out);
            }
        }

        impl Deref for $ty {
            type Target = $inner;

            fn deref(&self) -> &$inner {
                &self.0
            }
        }

        impl DerefMut for $ty {
            fn deref_mut(&mut self) -> &mut $inner {
                &mut self.0
            }
        }

        impl From<$inner> for $ty {
            fn from(inner: $inner) -> $ty {
                $ty(inner)
            }
        }
    };
}

auth_header!(WwwAuthenticate, Challenge, WwwAuthenticate);
auth_header!(ProxyAuthenticate, Challenge, ProxyAuthenticate);
auth_header!(Authorization, Credentials, Authorization);
auth_header!(ProxyAuthorization, Credentials, ProxyAuthorization);

/// Which side of the exchange a parameter list belongs to; quoting rules differ for `qop`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Challenge,
    Credentials,
}

fn get<'a>(params: &'a [AuthParam], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|p| eq_ignore_case(&p.name, name))
        .map(|p| p.value.as_str())
}

fn set(params: &mut Vec<AuthParam>, name: &str, value: String, kind: Kind) {
    let quoted = quoting(kind, name, &value, false);
    match params.iter_mut().find(|p| eq_ignore_case(&p.name, name)) {
        Some(existing) => {
            existing.value = value;
            existing.quoted = quoted;
        }
        None => params.push(AuthParam {
            name: name.to_string(),
            value,
            quoted,
        }),
    }
}

fn parse_scheme_and_params(
    value: &str,
    kind: Kind,
) -> Result<(String, Vec<AuthParam>), HeaderError> {
    let s = crate::text::trim_wsp(value);
    if s.is_empty() {
        return Err(HeaderError::Empty);
    }
    let scheme_len = s.bytes().take_while(|&b| is_token_char(b)).count();
    if scheme_len == 0 {
        return Err(HeaderError::Syntax("auth scheme is not a token"));
    }
    let (scheme, mut rest) = s.split_at(scheme_len);
    if rest.is_empty() {
        return Err(HeaderError::Syntax("auth scheme without parameters"));
    }
    if !rest.bytes().next().is_some_and(is_wsp) {
        return Err(HeaderError::Syntax(
            "auth scheme not followed by white space",
        ));
    }

    let mut params: Vec<AuthParam> = Vec::new();
    loop {
        rest = skip_wsp(rest);
        if let Some(after) = rest.strip_prefix(',') {
            // Empty list element: tolerated.
            rest = after;
            continue;
        }
        if rest.is_empty() {
            break;
        }
        let name_len = rest.bytes().take_while(|&b| is_token_char(b)).count();
        if name_len == 0 {
            return Err(HeaderError::Syntax("auth-param name is not a token"));
        }
        let (name, after_name) = rest.split_at(name_len);
        let after_eq = skip_wsp(after_name)
            .strip_prefix('=')
            .ok_or(HeaderError::Syntax("auth-param without '='"))?;
        let after_eq = skip_wsp(after_eq);
        let (value, quoted, after_value) = if after_eq.starts_with('"') {
            let (v, r) =
                read_quoted(after_eq).ok_or(HeaderError::Syntax("unterminated quoted-string"))?;
            if v.chars().any(|c| c.is_control() && c != '\t') {
                return Err(HeaderError::Syntax("control character in auth-param"));
            }
            (v, true, r)
        } else {
            let len = after_eq.bytes().take_while(|&b| is_token_char(b)).count();
            if len == 0 {
                return Err(HeaderError::Syntax("auth-param value missing"));
            }
            let (v, r) = after_eq.split_at(len);
            (v.to_string(), false, r)
        };
        if params.iter().any(|p| eq_ignore_case(&p.name, name)) {
            return Err(HeaderError::Syntax("duplicated auth-param"));
        }
        params.push(AuthParam {
            name: name.to_string(),
            quoted: quoting(kind, name, &value, quoted),
            value,
        });
        rest = skip_wsp(after_value);
        if rest.is_empty() {
            break;
        }
        rest = rest
            .strip_prefix(',')
            .ok_or(HeaderError::Syntax("expected ',' between auth-params"))?;
    }
    if params.is_empty() {
        return Err(HeaderError::Syntax("auth scheme without parameters"));
    }
    Ok((scheme.to_string(), params))
}

fn skip_wsp(s: &str) -> &str {
    s.trim_start_matches([' ', '\t'])
}

/// Whether `name` is written as a quoted-string on the `kind` side; `None` for unknown names.
fn fixed_quoting(kind: Kind, name: &str) -> Option<bool> {
    const ALWAYS: [&str; 4] = ["realm", "nonce", "opaque", "domain"];
    const CHALLENGE_BARE: [&str; 3] = ["algorithm", "stale", "userhash"];
    const CREDENTIALS_QUOTED: [&str; 4] = ["username", "uri", "response", "cnonce"];
    const CREDENTIALS_BARE: [&str; 4] = ["algorithm", "nc", "qop", "userhash"];
    let is = |list: &[&str]| list.iter().any(|n| eq_ignore_case(n, name));
    if is(&ALWAYS) {
        return Some(true);
    }
    match kind {
        Kind::Challenge if eq_ignore_case(name, "qop") => Some(true),
        Kind::Challenge if is(&CHALLENGE_BARE) => Some(false),
        Kind::Credentials if is(&CREDENTIALS_QUOTED) => Some(true),
        Kind::Credentials if is(&CREDENTIALS_BARE) => Some(false),
        _ => None,
    }
}

/// Whether a value is written quoted: the fixed rule for known names, else `hint`; always
/// when the value is not a token, or it would not parse back.
fn quoting(kind: Kind, name: &str, value: &str, hint: bool) -> bool {
    fixed_quoting(kind, name).unwrap_or(hint) || !is_token(value)
}

fn write_scheme_and_params(out: &mut String, scheme: &str, params: &[AuthParam], kind: Kind) {
    out.push_str(scheme);
    for (i, p) in params.iter().enumerate() {
        out.push_str(if i == 0 { " " } else { ", " });
        out.push_str(&p.name);
        out.push('=');
        if quoting(kind, &p.name, &p.value, p.quoted) {
            write_quoted(out, &p.value);
        } else {
            out.push_str(&p.value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc_3261_challenge() {
        // RFC 3261 §20.44 example.
        let c = Challenge::parse(
            r#"Digest realm="atlanta.com", domain="sip:boxesbybob.com", qop="auth", nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5"#,
        )
        .unwrap();
        assert!(c.is_digest());
        assert_eq!(c.realm(), Some("atlanta.com"));
        assert_eq!(c.domain(), Some("sip:boxesbybob.com"));
        assert_eq!(c.nonce(), Some("f84f1cec41e6cbe5aea9c8e88d359"));
        assert_eq!(c.opaque(), Some(""));
        assert_eq!(c.algorithm(), Some("MD5"));
        assert!(!c.stale());
        assert_eq!(c.qop_options().collect::<Vec<_>>(), vec!["auth"]);
    }

    #[test]
    fn parses_rfc_7616_credentials() {
        // RFC 7616 §3.9.1, SHA-256 request.
        let c = Credentials::parse(
            r#"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
        )
        .unwrap();
        assert_eq!(c.username(), Some("Mufasa"));
        assert_eq!(c.realm(), Some("http-auth@example.org"));
        assert_eq!(c.uri(), Some("/dir/index.html"));
        assert_eq!(c.algorithm(), Some("SHA-256"));
        assert_eq!(c.nc(), Some("00000001"));
        assert_eq!(
            c.cnonce(),
            Some("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
        );
        assert_eq!(c.qop(), Some("auth"));
        assert_eq!(
            c.response(),
            Some("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")
        );
        assert_eq!(
            c.opaque(),
            Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
        );
        assert!(!c.userhash());
    }

    #[test]
    fn odd_whitespace_and_case_are_tolerated() {
        let rows = [
            "Digest realm=\"r\",nonce=\"n\"",
            "Digest  realm = \"r\" ,\tnonce=\"n\"  ",
            "  digest\trealm=\"r\" , , nonce = \"n\",",
            "DIGEST REALM=\"r\", Nonce=n",
        ];
        for row in rows {
            let c = Challenge::parse(row).unwrap_or_else(|e| panic!("{row:?}: {e}"));
            assert!(c.is_digest(), "{row:?}");
            assert_eq!(c.realm(), Some("r"), "{row:?}");
            assert_eq!(c.nonce(), Some("n"), "{row:?}");
            assert_eq!(c.params.len(), 2, "{row:?}");
        }
    }

    #[test]
    fn quoted_values_may_hold_commas_and_escapes() {
        let c = Credentials::parse(r#"Digest username="a,\"b\"", uri="sip:x@y;a=b,c""#).unwrap();
        assert_eq!(c.username(), Some(r#"a,"b""#));
        assert_eq!(c.uri(), Some("sip:x@y;a=b,c"));
        assert_eq!(
            c.to_string(),
            r#"Digest username="a,\"b\"", uri="sip:x@y;a=b,c""#
        );
    }

    #[test]
    fn malformed_values_are_refused() {
        let rows = [
            ("", "empty"),
            ("   ", "blank"),
            ("Digest", "no params"),
            ("Digest ", "no params after space"),
            ("Digest ,", "only commas"),
            ("Digest realm", "no ="),
            ("Digest realm=", "no value"),
            ("Digest realm=\"r", "unterminated quote"),
            ("Digest realm=\"r\" nonce=\"n\"", "missing comma"),
            ("Digest realm=\"r\", realm=\"s\"", "duplicate"),
            ("Digest realm=\"r\", REALM=\"s\"", "duplicate, other case"),
            ("Digest realm=a b", "space in token"),
            ("Digest=x", "scheme glued to param"),
            ("\"Digest\" realm=r", "quoted scheme"),
            ("Digest realm=\"a\u{1}b\"", "control character"),
            ("Bearer abc=", "token68"),
        ];
        for (row, why) in rows {
            assert!(Challenge::parse(row).is_err(), "{why}: {row:?}");
            assert!(Credentials::parse(row).is_err(), "{why}: {row:?}");
        }
    }

    #[test]
    fn unknown_params_and_schemes_are_kept() {
        let c = Challenge::parse(r#"Digest realm="r", x-foo=bar, x-baz="q u x""#).unwrap();
        assert_eq!(c.get("X-FOO"), Some("bar"));
        assert_eq!(c.get("x-baz"), Some("q u x"));
        assert_eq!(
            c.to_string(),
            r#"Digest realm="r", x-foo=bar, x-baz="q u x""#
        );
        let c = Challenge::parse("Basic realm=\"r\"").unwrap();
        assert!(!c.is_digest());
        assert_eq!(c.to_string(), "Basic realm=\"r\"");
    }

    #[test]
    fn writers_quote_by_rule() {
        // Values arrive in the "wrong" form and are written in the canonical one.
        let c = Challenge::parse(
            r#"Digest realm=r, nonce=n, opaque=o, qop=auth, algorithm="SHA-256", stale="TRUE""#,
        )
        .unwrap();
        assert!(c.stale());
        assert_eq!(
            c.to_string(),
            r#"Digest realm="r", nonce="n", opaque="o", qop="auth", algorithm=SHA-256, stale=TRUE"#
        );
        let c = Credentials::parse(
            r#"Digest username=u, realm=r, nonce=n, uri="sip:a@b", response=abc, cnonce=c, nc="00000001", qop="auth", algorithm="MD5", userhash="false""#,
        )
        .unwrap();
        assert_eq!(
            c.to_string(),
            r#"Digest username="u", realm="r", nonce="n", uri="sip:a@b", response="abc", cnonce="c", nc=00000001, qop=auth, algorithm=MD5, userhash=false"#
        );
    }

    #[test]
    fn builder_and_header_round_trip() {
        let mut c = Challenge::digest();
        c.set("realm", "example.com");
        c.set("qop", "auth");
        c.set("algorithm", "SHA-256");
        c.set("nonce", "abc");
        c.set("stale", "true");
        c.set("NONCE", "def");
        let h = WwwAuthenticate(c);
        let wire = h.to_value();
        assert_eq!(
            wire,
            r#"Digest realm="example.com", qop="auth", algorithm=SHA-256, nonce="def", stale=true"#
        );
        assert_eq!(WwwAuthenticate::parse(&wire).unwrap(), h);
        assert_eq!(
            ProxyAuthenticate::parse(&wire).unwrap().realm(),
            Some("example.com")
        );
        const { assert!(!WwwAuthenticate::LIST) };
        const { assert!(!Authorization::LIST) };
        assert_eq!(ProxyAuthorization::NAME, HeaderName::ProxyAuthorization);

        let mut creds = Credentials::digest();
        creds.set("username", "alice");
        creds.set("nc", "00000002");
        let h = Authorization(creds);
        let wire = h.to_value();
        assert_eq!(wire, r#"Digest username="alice", nc=00000002"#);
        assert_eq!(Authorization::parse(&wire).unwrap(), h);
        assert_eq!(
            ProxyAuthorization::parse(&wire).unwrap().nc(),
            Some("00000002")
        );
    }

    #[test]
    fn qop_list_in_challenge() {
        let c = Challenge::parse(r#"Digest realm="r", qop="auth, auth-int,""#).unwrap();
        assert_eq!(
            c.qop_options().collect::<Vec<_>>(),
            vec!["auth", "auth-int"]
        );
    }

    proptest::proptest! {
        /// Hostile input never panics, and whatever parses writes back to the same thing.
        #[test]
        fn parse_never_panics_and_round_trips(
            s in r#"(Digest|digest|Basic)?[ \t]{0,2}([a-zA-Z-]{1,6}[ ]?=[ ]?("[^"\\]{0,6}"|"a\\"b"|[a-z0-9/+]{0,6})[ ]?,?[ ]?){0,4}"#
        ) {
            if let Ok(c) = Challenge::parse(&s) {
                proptest::prop_assert_eq!(Challenge::parse(&c.to_string()), Ok(c));
            }
            if let Ok(c) = Credentials::parse(&s) {
                proptest::prop_assert_eq!(Credentials::parse(&c.to_string()), Ok(c));
            }
        }

        /// Arbitrary text, including non-ASCII and control characters, never panics.
        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,40}") {
            let _ = Challenge::parse(&s);
            let _ = Credentials::parse(&s);
        }
    }
}
