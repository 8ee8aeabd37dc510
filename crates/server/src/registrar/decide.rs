//! The REGISTER decision (RFC 3261 §10.3), as a function of the request, the bindings the
//! address of record has now, the policy and the time: no I/O, no store.
//!
//! Steps, first failure wins:
//! 1. To must be a SIP address of record with a user part (400).
//! 2. With users configured and registration not open, the user must be one of them (403).
//! 3. A user with a password must present valid digest credentials (401 challenge, 400 for
//!    malformed ones, 403 when they name another user or the source or user is locked out),
//!    checked by the [`Authenticator`] every other request goes through too.
//! 4. Contacts: none is a query; `*` is allowed only alone and with `Expires: 0` (400
//!    otherwise); each contact must be a SIP URI, and its expiry (the `expires` parameter,
//!    else the Expires header, else the default) is either 0 (remove), at least
//!    `min_expires` (423 with Min-Expires otherwise) and cut down to `max_expires`.
//! 5. Call-ID/CSeq ordering (§10.3 step 7): a binding refreshed with the same Call-ID must
//!    come with a higher CSeq, else the whole update is refused (500, nothing changes).
//!
//! Bounds (`docs/security.md`): a REGISTER sent from one of callcomp's own addresses, or with
//! a contact that names one, is refused (403), since calls to it would loop back into
//! callcomp; a REGISTER with more than `max_contacts` contacts is refused (403); when its new
//! contacts take the AOR past `max_contacts`, the AOR's least recently refreshed other
//! bindings are dropped to make room (a phone that restarts on a new port gets in at once,
//! instead of waiting up to an hour for its stale binding to expire).

use std::collections::BTreeMap;

use callcomp_sip::auth::Secret;
use callcomp_sip::check::Essentials;
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::auth::Challenge;
use callcomp_sip::headers::contact::Contact;
use callcomp_sip::headers::numbers::Expires;
use callcomp_sip::message::Message;
use callcomp_sip::uri::Uri;

use super::binding::Binding;
use super::own::OwnAddrs;
use crate::identity::{Attempt, Authenticator, ChallengeKind, Refusal};
use crate::transport::Target;

/// What the registrar allows, taken from the configuration.
#[derive(Debug, Clone)]
pub struct RegistrarPolicy {
    /// The users' domain: AORs are `sip:<user>@<domain>`.
    pub domain: String,
    /// The configured users, with their digest secret when they have a password.
    pub users: BTreeMap<String, Option<Secret>>,
    /// Whether names outside `users` may register (without a password).
    pub open: bool,
    /// Shortest non-zero registration accepted, in seconds.
    pub min_expires: u32,
    /// Longest registration granted, in seconds.
    pub max_expires: u32,
    /// The registration time when the request names none, in seconds.
    pub default_expires: u32,
    /// Most bindings one AOR may have.
    pub max_contacts: usize,
    /// callcomp's own addresses, which no contact may name.
    pub own: OwnAddrs,
}

impl RegistrarPolicy {
    /// The AOR of `user`.
    pub fn aor(&self, user: &str) -> String {
        format!("sip:{user}@{}", self.domain)
    }
}

/// The registrar's answer to one REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// 401 with fresh challenges; `stale` when only the nonce was too old.
    Challenge {
        /// The challenges carry `stale=true`.
        stale: bool,
        /// The challenges, in order.
        challenges: Vec<Challenge>,
    },
    /// A final failure with this status and reason phrase.
    Reject {
        /// 400, 403 or 500.
        status: u16,
        /// The reason phrase, saying what is wrong.
        reason: String,
    },
    /// 423: a contact asked for less than this many seconds.
    TooBrief {
        /// The Min-Expires to send.
        min_expires: u32,
    },
    /// 200: the AOR's bindings are now `bindings` (every live one, best `q` first).
    Accept {
        /// The user (line) name.
        user: String,
        /// The AOR.
        aor: String,
        /// The complete new set.
        bindings: Vec<Binding>,
        /// Whether the set differs from the current one (and must be stored before the 200).
        changed: bool,
    },
}

impl Decision {
    fn reject(status: u16, reason: impl Into<String>) -> Decision {
        Decision::Reject {
            status,
            reason: reason.into(),
        }
    }
}

/// Everything the decision reads.
#[derive(Debug, Clone, Copy)]
pub struct RegisterRequest<'a> {
    /// The REGISTER.
    pub message: &'a Message,
    /// Its checked headers.
    pub essentials: &'a Essentials,
    /// Where it came from.
    pub source: Target,
    /// The time, in milliseconds since the UNIX epoch.
    pub now_ms: u64,
}

/// Decides a REGISTER; see the module documentation. `current` are the AOR's bindings as
/// stored (expired ones are ignored). `auth` keeps nonce counts and failures, so it is `&mut`.
pub fn decide(
    req: RegisterRequest<'_>,
    current: &[Binding],
    policy: &RegistrarPolicy,
    auth: &mut Authenticator,
) -> Decision {
    let Some(user) = aor_user(&req.essentials.to.uri) else {
        return Decision::reject(400, "To is not a SIP address of record");
    };
    let secret = match policy.users.get(&user) {
        Some(secret) => secret.clone(),
        None if policy.open => None,
        None => return Decision::reject(403, "Unknown user"),
    };
    if secret.is_some() {
        let attempt = Attempt {
            message: req.message,
            method: "REGISTER",
            source: req.source.remote.ip(),
            kind: ChallengeKind::Www,
            now_ms: req.now_ms,
        };
        match auth.authenticate(&attempt, &policy.users, Some(&user)) {
            Ok(_) => {}
            Err(Refusal::Challenge {
                stale, challenges, ..
            }) => return Decision::Challenge { stale, challenges },
            Err(Refusal::Reject { status, reason }) => return Decision::Reject { status, reason },
        }
    }
    let contacts = match req.message.header_all::<Contact>() {
        Ok(contacts) => contacts,
        Err(_) => return Decision::reject(400, "Invalid Contact header"),
    };
    if policy.own.is_own(req.source.remote) {
        return Decision::reject(403, "REGISTER from this server's own address");
    }
    if contacts.len() > policy.max_contacts {
        return Decision::reject(
            403,
            format!("Too many contacts (at most {})", policy.max_contacts),
        );
    }
    let header_expires = match req.message.header::<Expires>() {
        None => None,
        Some(Ok(Expires(secs))) => Some(secs),
        Some(Err(_)) => return Decision::reject(400, "Invalid Expires header"),
    };
    let aor = policy.aor(&user);
    let now_ms = req.now_ms;
    let live: Vec<Binding> = current
        .iter()
        .filter(|b| b.is_live(now_ms))
        .cloned()
        .collect();
    let call_id = req.essentials.call_id.0.as_str();
    let cseq = req.essentials.cseq.seq;

    if contacts.iter().any(|c| matches!(c, Contact::Star)) {
        if contacts.len() != 1 || header_expires != Some(0) {
            return Decision::reject(400, "Contact * needs Expires: 0 and no other contact");
        }
        if live.iter().any(|b| b.call_id == call_id && cseq <= b.cseq) {
            return Decision::reject(500, "Out of order REGISTER");
        }
        return accept(user, aor, Vec::new(), current);
    }

    let user_agent = req
        .message
        .get_str(&HeaderName::UserAgent)
        .map(|s| s.into_owned());
    let mut next = live.clone();
    // The contacts this REGISTER writes, which room is made for.
    let mut written: Vec<String> = Vec::new();
    for contact in &contacts {
        let Some(addr) = contact.addr() else {
            continue;
        };
        if addr.uri.as_sip().is_none() {
            return Decision::reject(400, "Contact is not a SIP URI");
        }
        if policy.own.is_own_uri(&addr.uri) {
            return Decision::reject(403, "Contact points at this server");
        }
        let expires = contact
            .expires()
            .or(header_expires)
            .unwrap_or(policy.default_expires);
        if expires != 0 && expires < policy.min_expires {
            return Decision::TooBrief {
                min_expires: policy.min_expires,
            };
        }
        let existing = next
            .iter()
            .position(|b| same_contact(&b.contact_uri, &addr.uri));
        if let Some(i) = existing {
            if next[i].call_id == call_id && cseq <= next[i].cseq {
                return Decision::reject(500, "Out of order REGISTER");
            }
            next.remove(i);
        }
        if expires == 0 {
            continue;
        }
        let granted = u64::from(expires.min(policy.max_expires));
        next.push(Binding {
            aor: aor.clone(),
            contact_uri: addr.uri.to_string(),
            expires_at_ms: now_ms.saturating_add(granted * 1000),
            q: contact.q(),
            call_id: call_id.to_owned(),
            cseq,
            source: Some(req.source),
            user_agent: user_agent.clone(),
            instance: addr.params.unquoted("+sip.instance"),
            updated_at_ms: now_ms,
        });
        written.push(addr.uri.to_string());
    }
    make_room(&mut next, &written, policy.max_contacts);
    accept(user, aor, next, current)
}

/// Drops the least recently refreshed bindings whose contact is not in `keep` until at most
/// `max` are left.
fn make_room(next: &mut Vec<Binding>, keep: &[String], max: usize) {
    if next.len() <= max {
        return;
    }
    let mut others: Vec<usize> = (0..next.len())
        .filter(|&i| !keep.contains(&next[i].contact_uri))
        .collect();
    others.sort_by_key(|&i| next[i].updated_at_ms);
    let excess = next.len() - max;
    let mut drop: Vec<usize> = others.into_iter().take(excess).collect();
    drop.sort_unstable();
    for i in drop.into_iter().rev() {
        next.remove(i);
    }
}

/// The user part of a `sip:`/`sips:` AOR, unescaped; `None` for anything else.
pub fn aor_user(uri: &Uri) -> Option<String> {
    let sip = uri.as_sip()?;
    sip.user.as_ref()?;
    sip.user_unescaped().filter(|u| !u.is_empty())
}

fn same_contact(stored: &str, uri: &Uri) -> bool {
    Uri::parse(stored).is_ok_and(|s| s.equivalent(uri))
}

/// The new set, best `q` first; `changed` compares it with the stored set (expired
/// bindings included, so that they leave the store too).
fn accept(user: String, aor: String, mut next: Vec<Binding>, current: &[Binding]) -> Decision {
    next.sort_by_key(|b| std::cmp::Reverse(b.preference()));
    let mut before = current.to_vec();
    before.sort_by_key(|b| std::cmp::Reverse(b.preference()));
    let changed = next != before;
    Decision::Accept {
        user,
        aor,
        bindings: next,
        changed,
    }
}
