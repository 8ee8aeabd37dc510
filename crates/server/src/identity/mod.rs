//! Who is asking: digest authentication of every request that speaks for a local user,
//! trusted peers, and the lockout of password guessing. docs/security.md is the user's view.
//!
//! One [`Authenticator`] serves the registrar (`401`/`WWW-Authenticate`, RFC 3261 §22.2) and
//! every other out-of-dialog request (`407`/`Proxy-Authenticate`, §22.3) with the same digest
//! code (`callcomp_sip::auth`: RFC 7616, RFC 8760), nonces bound to the client's address, and
//! one failure count per source and per user ([`lockout`]).
//!
//! - [`Authenticator::authenticate`]: the credentials check, with lockout and logging;
//! - [`gate`]: the decision every out-of-dialog request passes before its role handles it
//!   ([`gate::admit`]), and the peer check of in-dialog requests ([`gate::from_dialog_peer`]).
//!
//! Each failure is logged at WARN in one stable line that fail2ban can match
//! (`docs/fail2ban/`): `authentication failed: source=IP method=METHOD user="NAME"
//! reason=REASON`. The source comes first and the user name, which the client chooses, is
//! quoted and escaped, so no user name can make the line name another address.

pub mod gate;
pub mod lockout;

use std::collections::BTreeMap;
use std::net::IpAddr;

use callcomp_sip::auth::{AuthError, DigestAuth, Secret, Verified};
use callcomp_sip::builder;
use callcomp_sip::headers::auth::{
    Authorization, Challenge, Credentials, ProxyAuthenticate, ProxyAuthorization, WwwAuthenticate,
};
use callcomp_sip::message::Message;

use crate::api::metrics as m;
use crate::config::{cidr, Cidr, Config};

pub use gate::{admit, from_dialog_peer, Identity};
pub use lockout::{Key, Lockout, LockoutPolicy};

/// Which challenge a request gets: a registrar's `401` or a proxy-like `407`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeKind {
    /// `401` with `WWW-Authenticate`; credentials in `Authorization` (REGISTER).
    Www,
    /// `407` with `Proxy-Authenticate`; credentials in `Proxy-Authorization` (every other
    /// request, RFC 3261 §22.3).
    Proxy,
}

/// How to refuse a request that did not prove its identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `401`/`407` with these challenges, one header line each, in order.
    Challenge {
        /// Which header and status.
        kind: ChallengeKind,
        /// Whether only the nonce was stale (the client knew the password).
        stale: bool,
        /// The challenges.
        challenges: Vec<Challenge>,
    },
    /// A final refusal (`400`, `403`) with this reason phrase.
    Reject {
        /// The status.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
}

impl Refusal {
    fn reject(status: u16, reason: impl Into<String>) -> Refusal {
        Refusal::Reject {
            status,
            reason: reason.into(),
        }
    }

    /// The response to `request`, with `to_tag` on its To.
    pub fn response(&self, request: &Message, to_tag: &str) -> Message {
        match self {
            Refusal::Challenge {
                kind, challenges, ..
            } => {
                let status = match kind {
                    ChallengeKind::Www => 401,
                    ChallengeKind::Proxy => 407,
                };
                let mut out = builder::response(request, status, None, to_tag);
                for c in challenges {
                    match kind {
                        ChallengeKind::Www => out.push(&WwwAuthenticate(c.clone())),
                        ChallengeKind::Proxy => out.push(&ProxyAuthenticate(c.clone())),
                    }
                }
                out
            }
            Refusal::Reject { status, reason } => {
                builder::response(request, *status, Some(reason), to_tag)
            }
        }
    }
}

/// The users who may authenticate, by name, with their secret when they have a password.
pub type Users = BTreeMap<String, Option<Secret>>;

/// One request to authenticate.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The request.
    pub message: &'a Message,
    /// Its method, as the digest covers it.
    pub method: &'a str,
    /// The address it came from (nonces are bound to it; failures are counted by it).
    pub source: IpAddr,
    /// `401` or `407`.
    pub kind: ChallengeKind,
    /// The time, in milliseconds since the UNIX epoch.
    pub now_ms: u64,
}

/// Digest authentication, trusted peers and the lockout; see the module documentation.
pub struct Authenticator {
    digest: DigestAuth,
    trusted: Vec<Cidr>,
    lockout: Lockout,
}

impl Authenticator {
    /// An authenticator over these parts.
    pub fn new(digest: DigestAuth, trusted: Vec<Cidr>, lockout: Lockout) -> Authenticator {
        Authenticator {
            digest,
            trusted,
            lockout,
        }
    }

    /// The authenticator of a configuration (`auth.*`, `sip.trusted`), with nonces keyed by
    /// `nonce_key`.
    pub fn from_config(config: &Config, nonce_key: [u8; 32]) -> Authenticator {
        let auth = &config.auth;
        let algorithms: Vec<_> = auth.algorithms.iter().map(|a| a.algorithm()).collect();
        let digest = DigestAuth::new(config.realm(), nonce_key)
            .with_algorithms(&algorithms)
            .with_nonce_lifetime(auth.nonce_lifetime.as_secs());
        let lockout = Lockout::new(LockoutPolicy {
            source_max_failures: auth.source_max_failures,
            user_max_failures: auth.user_max_failures,
            window: auth.failure_window,
            lockout: auth.lockout,
        });
        Authenticator::new(digest, config.sip.trusted.clone(), lockout)
    }

    /// Whether `ip` is a trusted peer (`sip.trusted`).
    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|c| c.contains(ip))
    }

    /// The realm of the challenges.
    pub fn realm(&self) -> &str {
        self.digest.realm()
    }

    /// The failure counts, for inspection.
    pub fn lockout(&self) -> &Lockout {
        &self.lockout
    }

    /// Whether `attempt` carries credentials for this realm (or any, when none names it).
    pub fn has_credentials(&self, attempt: &Attempt<'_>) -> bool {
        matches!(self.credentials(attempt), Ok(Some(_)) | Err(_))
    }

    /// Authenticates `attempt` as one of `users`, by the user name of its credentials;
    /// `expected` is the only name they may carry (a REGISTER's AOR user). Returns the
    /// authenticated name, or how to refuse:
    ///
    /// 1. a locked source, or a locked `expected` user: `403`, no challenge;
    /// 2. no credentials for our realm: a challenge; malformed ones: `400`;
    /// 3. credentials naming another user than `expected`, or a user without a password or
    ///    unknown: a failure, `403`;
    /// 4. a wrong response: a failure, a new challenge (or `403` when this failure locks);
    ///    a stale or reused nonce: a new challenge with `stale=true`.
    pub fn authenticate(
        &mut self,
        attempt: &Attempt<'_>,
        users: &Users,
        expected: Option<&str>,
    ) -> Result<String, Refusal> {
        if let Some(refusal) = self.locked(attempt, expected) {
            return Err(refusal);
        }
        let creds = match self.credentials(attempt) {
            Ok(Some(creds)) => creds,
            Ok(None) => return Err(self.challenge(attempt, false)),
            Err(refusal) => return Err(refusal),
        };
        let Some(name) = creds.username().filter(|n| !n.is_empty()) else {
            return Err(Refusal::reject(
                400,
                AuthError::Missing("username").to_string(),
            ));
        };
        let name = name.to_owned();
        if expected.is_some_and(|e| e != name) {
            return Err(self.failure(attempt, &name, Failure::UserMismatch));
        }
        if let Some(refusal) = self.locked(attempt, Some(&name)) {
            return Err(refusal);
        }
        let Some(secret) = users.get(&name).cloned().flatten() else {
            return Err(self.failure(attempt, &name, Failure::UnknownUser));
        };
        let now_secs = attempt.now_ms / 1000;
        let result = self
            .digest
            .verify(&creds, attempt.method, &secret, attempt.source, now_secs);
        match result {
            Ok(Verified { username, .. }) => Ok(username),
            Err(AuthError::WrongResponse) => {
                Err(self.failure(attempt, &name, Failure::WrongPassword))
            }
            Err(e) => {
                let rejection = e.rejection();
                if rejection.status == 401 {
                    Err(self.challenge(attempt, rejection.stale))
                } else {
                    Err(Refusal::reject(rejection.status, e.to_string()))
                }
            }
        }
    }

    /// A fresh challenge for `attempt`'s client.
    pub fn challenge(&self, attempt: &Attempt<'_>, stale: bool) -> Refusal {
        Refusal::Challenge {
            kind: attempt.kind,
            stale,
            challenges: self
                .digest
                .challenge(attempt.now_ms / 1000, stale, attempt.source),
        }
    }

    /// The credentials of `attempt` for our realm (else the first ones); `Err` for a header
    /// that does not parse.
    fn credentials(&self, attempt: &Attempt<'_>) -> Result<Option<Credentials>, Refusal> {
        let all: Vec<Credentials> = match attempt.kind {
            ChallengeKind::Www => attempt
                .message
                .header_all::<Authorization>()
                .map(|v| v.into_iter().map(|a| a.0).collect())
                .map_err(|_| Refusal::reject(400, "Invalid Authorization header"))?,
            ChallengeKind::Proxy => attempt
                .message
                .header_all::<ProxyAuthorization>()
                .map(|v| v.into_iter().map(|a| a.0).collect())
                .map_err(|_| Refusal::reject(400, "Invalid Proxy-Authorization header"))?,
        };
        let realm = self.digest.realm();
        let ours = all.iter().position(|c| c.realm() == Some(realm));
        Ok(ours
            .or(if all.is_empty() { None } else { Some(0) })
            .and_then(|i| all.into_iter().nth(i)))
    }

    /// `403` when the source or `user` is locked out at the attempt's time.
    fn locked(&self, attempt: &Attempt<'_>, user: Option<&str>) -> Option<Refusal> {
        let source = Key::Source(cidr::canonical(attempt.source));
        let keys = std::iter::once(source).chain(user.map(|u| Key::User(u.to_owned())));
        for key in keys {
            if self.lockout.locked_until(&key, attempt.now_ms).is_some() {
                ::metrics::counter!(m::AUTH_REFUSALS, m::LABEL_REASON => match key {
                    Key::Source(_) => "locked-source",
                    Key::User(_) => "locked-user",
                })
                .increment(1);
                return Some(Refusal::reject(403, "Too many failed authentications"));
            }
        }
        None
    }

    /// Records a failed authentication of `user` (per user only for a wrong password, whose
    /// name is a configured one), logs it, and says how to answer: `403` when it locked the
    /// source or the user, else the failure's own answer.
    fn failure(&mut self, attempt: &Attempt<'_>, user: &str, failure: Failure) -> Refusal {
        let source = cidr::canonical(attempt.source);
        let reason = failure.as_str();
        tracing::warn!(
            "authentication failed: source={source} method={} user={user:?} reason={reason}",
            attempt.method
        );
        ::metrics::counter!(m::AUTH_FAILURES, m::LABEL_METHOD => attempt.method.to_owned(), m::LABEL_REASON => reason)
            .increment(1);
        let mut locked = false;
        let mut keys = vec![Key::Source(source)];
        if failure == Failure::WrongPassword {
            keys.push(Key::User(user.to_owned()));
        }
        for key in keys {
            if let Some(until) = self.lockout.fail(key.clone(), attempt.now_ms) {
                locked = true;
                let secs = until.saturating_sub(attempt.now_ms) / 1000;
                match &key {
                    Key::Source(ip) => {
                        tracing::warn!("authentication lockout: source={ip} seconds={secs}")
                    }
                    Key::User(name) => {
                        tracing::warn!("authentication lockout: user={name:?} seconds={secs}")
                    }
                }
                ::metrics::counter!(m::AUTH_LOCKOUTS, m::LABEL_SCOPE => key.scope()).increment(1);
            }
        }
        match failure {
            _ if locked => Refusal::reject(403, "Too many failed authentications"),
            Failure::WrongPassword => self.challenge(attempt, false),
            Failure::UserMismatch => Refusal::reject(403, "Credentials are for another user"),
            Failure::UnknownUser => Refusal::reject(403, "Unknown user"),
        }
    }
}

/// Why an authentication failed, as the log line and the metric label say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// The response digest did not match: a wrong password (or user name, method, uri).
    WrongPassword,
    /// The credentials name a user that does not exist or has no password.
    UnknownUser,
    /// A REGISTER's credentials name another user than its AOR.
    UserMismatch,
}

impl Failure {
    fn as_str(self) -> &'static str {
        match self {
            Failure::WrongPassword => "wrong-password",
            Failure::UnknownUser => "unknown-user",
            Failure::UserMismatch => "user-mismatch",
        }
    }
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("digest", &self.digest)
            .field("trusted", &self.trusted)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
