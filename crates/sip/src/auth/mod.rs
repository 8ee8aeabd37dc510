//! Server-side digest authentication for the registrar (RFC 3261 §22, RFC 7616, RFC 8760).
//!
//! [`DigestAuth`] issues challenges and checks the credentials that answer them, without
//! sockets or clocks: the caller passes the current time in seconds. The registrar looks the
//! user up by [`Credentials::username`](crate::headers::auth::Credentials::username), hands
//! over the user's [`Secret`], and turns an [`AuthError`] into a response with
//! [`AuthError::rejection`]: `400` for malformed credentials, `401` with a fresh challenge
//! (with `stale=true` when only the nonce was too old) otherwise. Unknown users are the
//! registrar's call (`403`, [`AuthError::UnknownUser`]).
//!
//! What is supported:
//! - algorithms `SHA-256` and `MD5`, offered in that order as RFC 8760 asks, and on request
//!   `SHA-256-sess` and `MD5-sess` ([`DigestAuth::with_algorithms`]);
//! - `qop=auth` only, and it is required;
//! - stateless nonces that carry their issue time under an HMAC ([`nonce`]), bound to the
//!   client's IP address and expiring after a configurable lifetime (300 s by default);
//! - nonce-count replay detection with a bounded table of recently used nonces;
//! - secrets stored as a password or as precomputed HA1 values.
//!
//! What is not: `qop=auth-int` (refused with [`AuthError::UnsupportedQop`]), the RFC 2069
//! form without `qop` (refused with [`AuthError::Missing`]), `userhash=true`
//! ([`AuthError::UserhashNotSupported`]), the `username*` encoding, `SHA-512-256`,
//! `opaque` (none is issued, any echoed one is ignored), `Authentication-Info`/`rspauth`, and
//! checking that `uri` matches the Request-URI (the registrar can compare
//! [`Verified::uri`] itself).

pub mod digest;
pub mod nonce;
pub mod server;

pub use digest::Algorithm;
pub use server::DigestAuth;

use std::fmt;

/// The user's secret, as the registrar stores it.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// The clear-text password.
    Password(String),
    /// Precomputed `H(username ":" realm ":" password)` per hash (RFC 7616 §3.4.2); a `None`
    /// entry means credentials with that hash cannot be checked for this user.
    Ha1 {
        /// The MD5 HA1 (also used for `MD5-sess`).
        md5: Option<[u8; 16]>,
        /// The SHA-256 HA1 (also used for `SHA-256-sess`).
        sha256: Option<[u8; 32]>,
    },
}

impl Secret {
    /// Both HA1 values for a password, to be stored instead of it.
    pub fn ha1_from_password(username: &str, realm: &str, password: &str) -> Secret {
        let md5 = Algorithm::Md5.hash(format!("{username}:{realm}:{password}").as_bytes());
        let sha = Algorithm::Sha256.hash(format!("{username}:{realm}:{password}").as_bytes());
        Secret::Ha1 {
            md5: md5.try_into().ok(),
            sha256: sha.try_into().ok(),
        }
    }

    /// HA1 values from hex strings (either case), as a configuration file holds them.
    pub fn ha1_from_hex(md5: Option<&str>, sha256: Option<&str>) -> Result<Secret, InvalidHa1> {
        let md5 = md5
            .map(|s| {
                digest::decode_hex(s)
                    .and_then(|v| <[u8; 16]>::try_from(v).ok())
                    .ok_or(InvalidHa1 { algorithm: "MD5" })
            })
            .transpose()?;
        let sha256 = sha256
            .map(|s| {
                digest::decode_hex(s)
                    .and_then(|v| <[u8; 32]>::try_from(v).ok())
                    .ok_or(InvalidHa1 {
                        algorithm: "SHA-256",
                    })
            })
            .transpose()?;
        Ok(Secret::Ha1 { md5, sha256 })
    }

    /// True when credentials using `algorithm` can be checked against this secret.
    pub fn supports(&self, algorithm: Algorithm) -> bool {
        match self {
            Secret::Password(_) => true,
            Secret::Ha1 { md5, sha256 } => {
                if algorithm.is_sha256() {
                    sha256.is_some()
                } else {
                    md5.is_some()
                }
            }
        }
    }

    /// The base HA1 in hex for `algorithm`, or `None` when this secret has none.
    fn base_ha1(&self, algorithm: Algorithm, username: &str, realm: &str) -> Option<String> {
        match self {
            Secret::Password(p) => Some(digest::ha1(algorithm, username, realm, p)),
            Secret::Ha1 { md5, sha256 } => {
                if algorithm.is_sha256() {
                    sha256.map(|h| digest::hex_lower(&h))
                } else {
                    md5.map(|h| digest::hex_lower(&h))
                }
            }
        }
    }
}

impl fmt::Debug for Secret {
    /// Never shows the secret itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Password(_) => f.write_str("Secret::Password(..)"),
            Secret::Ha1 { md5, sha256 } => write!(
                f,
                "Secret::Ha1 {{ md5: {}, sha256: {} }}",
                if md5.is_some() { "Some(..)" } else { "None" },
                if sha256.is_some() { "Some(..)" } else { "None" }
            ),
        }
    }
}

/// A stored HA1 that is not the right number of hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{algorithm} HA1 is not {} hex digits", if *algorithm == "MD5" { 32 } else { 64 })]
pub struct InvalidHa1 {
    /// Which HA1 was wrong: `MD5` or `SHA-256`.
    pub algorithm: &'static str,
}

/// Credentials that checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The `username` the client authenticated as.
    pub username: String,
    /// The algorithm the client used.
    pub algorithm: Algorithm,
    /// The digest-uri the response covered (compare with the Request-URI if wanted).
    pub uri: String,
    /// The nonce count of this request.
    pub nc: u32,
    /// Seconds since the nonce was issued.
    pub nonce_age: u64,
}

/// How to answer a request whose credentials were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    /// `400`, `401` or `403`.
    pub status: u16,
    /// For a `401`: send the new challenge with `stale=true`.
    pub stale: bool,
}

/// Why credentials were refused. [`AuthError::rejection`] says how to answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A scheme other than `Digest` (e.g. `Basic`): challenge again.
    #[error("auth scheme {0:?} is not supported, only Digest")]
    NotDigest(String),
    /// A parameter the credentials must carry is absent (`qop` included: the RFC 2069 form
    /// without it is not supported).
    #[error("credentials lack the {0} parameter")]
    Missing(&'static str),
    /// A parameter is present but not well formed.
    #[error("credentials parameter {param} is malformed: {reason}")]
    Malformed {
        /// The parameter.
        param: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `qop` other than `auth`; `auth-int` is not supported.
    #[error("qop {0:?} is not supported, only auth")]
    UnsupportedQop(String),
    /// `userhash=true`: hashed usernames are not supported (and never offered).
    #[error("userhash is not supported")]
    UserhashNotSupported,
    /// The `realm` is not this server's.
    #[error("realm {0:?} is not this server's")]
    WrongRealm(String),
    /// An `algorithm` this server does not accept.
    #[error("algorithm {0:?} is not accepted")]
    UnsupportedAlgorithm(String),
    /// The user's stored secret has no HA1 for the hash the client chose.
    #[error("no stored secret for algorithm {0}")]
    NoSecretForAlgorithm(Algorithm),
    /// The nonce was not issued by this server for this realm (forged, altered or foreign).
    #[error("unknown nonce")]
    UnknownNonce,
    /// The response does not match: wrong password, username, method or uri.
    #[error("wrong response digest")]
    WrongResponse,
    /// The response was right but the nonce has expired or can no longer be tracked.
    #[error("stale nonce")]
    StaleNonce,
    /// The nonce count did not increase: a replayed or reordered request.
    #[error("nonce count {nc:08x} not above the last one seen ({last:08x})")]
    Replayed {
        /// The nonce count received.
        nc: u32,
        /// The highest nonce count accepted before for this nonce.
        last: u32,
    },
    /// No such user. Never returned by [`DigestAuth::verify`]; for the registrar's lookup.
    #[error("unknown user {0:?}")]
    UnknownUser(String),
}

impl AuthError {
    /// The response that refuses the request: `400` for malformed or unsupported credentials,
    /// `403` for an unknown user, `401` (re-challenge) otherwise, with `stale` set when the
    /// client knew the password and only needs a new nonce.
    pub fn rejection(&self) -> Rejection {
        let (status, stale) = match self {
            AuthError::Missing(_)
            | AuthError::Malformed { .. }
            | AuthError::UnsupportedQop(_)
            | AuthError::UserhashNotSupported => (400, false),
            AuthError::UnknownUser(_) => (403, false),
            AuthError::StaleNonce | AuthError::Replayed { .. } => (401, true),
            AuthError::NotDigest(_)
            | AuthError::WrongRealm(_)
            | AuthError::UnsupportedAlgorithm(_)
            | AuthError::NoSecretForAlgorithm(_)
            | AuthError::UnknownNonce
            | AuthError::WrongResponse => (401, false),
        };
        Rejection { status, stale }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ha1_secrets() {
        let s = Secret::ha1_from_password("Mufasa", "http-auth@example.org", "Circle of Life");
        let Secret::Ha1 { md5, sha256 } = &s else {
            panic!("not Ha1");
        };
        assert_eq!(
            digest::hex_lower(&md5.unwrap()),
            digest::ha1(
                Algorithm::Md5,
                "Mufasa",
                "http-auth@example.org",
                "Circle of Life"
            )
        );
        assert_eq!(
            digest::hex_lower(&sha256.unwrap()),
            digest::ha1(
                Algorithm::Sha256,
                "Mufasa",
                "http-auth@example.org",
                "Circle of Life"
            )
        );
        let from_hex = Secret::ha1_from_hex(
            Some(&digest::hex_lower(&md5.unwrap()).to_uppercase()),
            Some(&digest::hex_lower(&sha256.unwrap())),
        )
        .unwrap();
        assert_eq!(from_hex, s);
        assert_eq!(
            Secret::ha1_from_hex(Some("abcd"), None),
            Err(InvalidHa1 { algorithm: "MD5" })
        );
        assert_eq!(
            Secret::ha1_from_hex(None, Some(&"g".repeat(64))),
            Err(InvalidHa1 {
                algorithm: "SHA-256"
            })
        );
        let md5_only = Secret::ha1_from_hex(Some(&"0".repeat(32)), None).unwrap();
        assert!(md5_only.supports(Algorithm::Md5Sess));
        assert!(!md5_only.supports(Algorithm::Sha256));
        assert!(Secret::Password("x".into()).supports(Algorithm::Sha256Sess));
    }

    #[test]
    fn debug_hides_secrets() {
        let d = format!("{:?}", Secret::Password("hunter2".into()));
        assert!(!d.contains("hunter2"), "{d}");
        let d = format!("{:?}", Secret::ha1_from_password("u", "r", "p"));
        assert!(!d.contains('['), "{d}");
    }

    #[test]
    fn rejections() {
        let rows = [
            (AuthError::Missing("nonce"), 400, false),
            (
                AuthError::Malformed {
                    param: "nc",
                    reason: "x",
                },
                400,
                false,
            ),
            (AuthError::UnsupportedQop("auth-int".into()), 400, false),
            (AuthError::UserhashNotSupported, 400, false),
            (AuthError::NotDigest("Basic".into()), 401, false),
            (AuthError::WrongRealm("x".into()), 401, false),
            (AuthError::UnsupportedAlgorithm("x".into()), 401, false),
            (
                AuthError::NoSecretForAlgorithm(Algorithm::Sha256),
                401,
                false,
            ),
            (AuthError::UnknownNonce, 401, false),
            (AuthError::WrongResponse, 401, false),
            (AuthError::StaleNonce, 401, true),
            (AuthError::Replayed { nc: 1, last: 1 }, 401, true),
            (AuthError::UnknownUser("bob".into()), 403, false),
        ];
        for (err, status, stale) in rows {
            assert_eq!(err.rejection(), Rejection { status, stale }, "{err}");
        }
        assert_eq!(
            AuthError::UnsupportedQop("auth-int".into()).to_string(),
            "qop \"auth-int\" is not supported, only auth"
        );
    }
}
