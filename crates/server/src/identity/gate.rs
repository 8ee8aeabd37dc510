//! The identity gate: the one decision every out-of-dialog request that can speak for a user
//! passes before its role (B2BUA, and later SUBSCRIBE/PUBLISH/MESSAGE handlers) sees it, and
//! the check that an in-dialog request comes from the dialog's peer.
//!
//! Gated requests ([`is_gated`]): INVITE, MESSAGE, SUBSCRIBE, PUBLISH and REFER outside a
//! dialog, and OPTIONS to a user (an OPTIONS to the server itself, a keep-alive, reveals
//! nothing and is not challenged). [`admit`] decides, first match wins:
//!
//! 1. credentials present (`Proxy-Authorization`): authenticate (RFC 3261 §22.3). The
//!    identity is the authenticated user; a From naming *another* local user is `403`.
//! 2. from a trusted peer (`sip.trusted`): not challenged. An external call, unless the From
//!    names a local user without a password (then that user's line).
//! 3. the From names a local user with a password: `407` with a challenge.
//! 4. the From names a local user without a password (or any name under open registration):
//!    that user.
//! 5. anything else is a non-local identity from an untrusted source: `403`, so callcomp
//!    relays nothing for strangers.
//!
//! "Local user" is the user part of the From URI, whatever its host, so `alice@elsewhere`
//! cannot slip past as a stranger: it is challenged as alice.
//!
//! Refusals are logged at DEBUG only (anyone can send them by the thousand) and counted in
//! `callcomp_auth_refusals_total`; failed authentications are WARN (see [`super`]), bounded
//! by the lockout.

use callcomp_sip::check::Essentials;
use callcomp_sip::message::Message;
use callcomp_sip::method::Method;
use callcomp_sip::uri::Uri;

use super::{Attempt, Authenticator, ChallengeKind, Refusal, Users};
use crate::api::metrics as m;
use crate::b2bua::target_of;
use crate::config::cidr;
use crate::registrar::aor_user;
use crate::transport::Target;

/// Who a request that passed the gate speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A local user: its line places the call and books any completion request.
    User {
        /// The user (line) name.
        name: String,
        /// Whether it proved it by digest (false: a user without a password, named by From).
        authenticated: bool,
    },
    /// A party outside callcomp, through a trusted peer: no local line.
    External,
}

impl Identity {
    /// The local user, if any.
    pub fn user(&self) -> Option<&str> {
        match self {
            Identity::User { name, .. } => Some(name),
            Identity::External => None,
        }
    }
}

/// What the gate needs to know about the users.
#[derive(Debug, Clone, Copy)]
pub struct Directory<'a> {
    /// The configured users and their secrets.
    pub users: &'a Users,
    /// Open registration: any other name is a local user without a password.
    pub open: bool,
}

/// Whether `request` (outside a dialog) must pass [`admit`].
pub fn is_gated(method: &Method, request: &Message) -> bool {
    match method {
        Method::Invite | Method::Message | Method::Subscribe | Method::Publish | Method::Refer => {
            true
        }
        Method::Options => request
            .uri()
            .and_then(Uri::as_sip)
            .is_some_and(|sip| sip.user.is_some()),
        _ => false,
    }
}

/// Decides an out-of-dialog request from `source`; see the module documentation.
pub fn admit(
    auth: &mut Authenticator,
    request: &Message,
    ess: &Essentials,
    source: Target,
    directory: Directory<'_>,
    now_ms: u64,
) -> Result<Identity, Refusal> {
    let method = ess.cseq.method.as_str();
    let attempt = Attempt {
        message: request,
        method,
        source: cidr::canonical(source.remote.ip()),
        kind: ChallengeKind::Proxy,
        now_ms,
    };
    // The local user the From names, with its secret (None: no password).
    let claimed = aor_user(&ess.from.uri).and_then(|name| match directory.users.get(&name) {
        Some(secret) => Some((name, secret.clone())),
        None if directory.open => Some((name, None)),
        None => None,
    });
    if auth.has_credentials(&attempt) {
        let name = auth.authenticate(&attempt, directory.users, None)?;
        if let Some((claimed, _)) = &claimed {
            if *claimed != name {
                tracing::debug!(
                    source = %attempt.source,
                    method = %method,
                    user = %name,
                    from = %claimed,
                    "refused: the From names another user than the credentials"
                );
                refused("identity-mismatch");
                return Err(Refusal::Reject {
                    status: 403,
                    reason: "From names another user".to_owned(),
                });
            }
        }
        return Ok(Identity::User {
            name,
            authenticated: true,
        });
    }
    if auth.is_trusted(attempt.source) {
        return Ok(match claimed {
            Some((name, None)) => Identity::User {
                name,
                authenticated: false,
            },
            _ => Identity::External,
        });
    }
    match claimed {
        Some((name, Some(_))) => {
            // Only to get the challenge (or the lockout's 403): there are no credentials.
            let expected = Some(name.as_str());
            match auth.authenticate(&attempt, directory.users, expected) {
                Ok(name) => Ok(Identity::User {
                    name,
                    authenticated: true,
                }),
                Err(refusal) => Err(refusal),
            }
        }
        Some((name, None)) => Ok(Identity::User {
            name,
            authenticated: false,
        }),
        None => {
            tracing::debug!(
                source = %attempt.source,
                method = %method,
                from = %ess.from.uri,
                "refused: not a local identity and not a trusted peer"
            );
            refused("untrusted-identity");
            Err(Refusal::Reject {
                status: 403,
                reason: "Not a local user and not a trusted peer".to_owned(),
            })
        }
    }
}

/// Whether an in-dialog request from `source` comes from the dialog's peer: the address the
/// dialog sends to (`peer`, the flow the dialog was set up over), or the address of the
/// Contact it gave (`remote_target`). Over TCP the same connection counts too.
pub fn from_dialog_peer(source: Target, peer: Target, remote_target: &Uri) -> bool {
    let same = |a: std::net::SocketAddr, b: std::net::SocketAddr| {
        cidr::canonical(a.ip()) == cidr::canonical(b.ip()) && a.port() == b.port()
    };
    if same(source.remote, peer.remote) {
        return true;
    }
    if source.conn.is_some() && source.conn == peer.conn {
        return true;
    }
    target_of(remote_target).is_some_and(|t| same(source.remote, t.remote))
}

fn refused(reason: &'static str) {
    ::metrics::counter!(m::AUTH_REFUSALS, m::LABEL_REASON => reason).increment(1);
}
