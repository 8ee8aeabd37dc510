//! The registrar (RFC 3261 §10.3): decides REGISTER requests, keeps every address of
//! record's bindings in memory, and builds the responses.
//!
//! The decision itself is [`decide::decide`], a function of the request, the current
//! bindings, the policy and the time. This module holds the state around it: the bindings
//! of every user (loaded from the store at start, replaced after each accepted REGISTER),
//! the digest authenticator, and the purge of expired bindings. Storing is the core's job: an
//! accepted set is only *staged* ([`Registrar::stage`]) until the store has committed it; the
//! next REGISTER of that user is decided against the staged set, but calls are routed by the
//! committed one, which the core replaces ([`Registrar::apply`]) after the commit.

pub mod binding;
pub mod decide;
pub mod nat;
pub mod own;

use std::collections::BTreeMap;
use std::time::Duration;

use callcomp_sip::auth::Secret;
use callcomp_sip::builder;
use callcomp_sip::headers::auth::WwwAuthenticate;
use callcomp_sip::headers::numbers::MinExpires;
use callcomp_sip::message::Message;
use callcomp_sip::uri::Uri;

pub use binding::Binding;
pub use decide::{aor_user, decide, Decision, RegisterRequest, RegistrarPolicy};
pub use own::OwnAddrs;

use crate::config::Config;
use crate::identity::Authenticator;

/// The registration time granted when a REGISTER names none (RFC 3261 §10.2.1.1 suggests
/// 3600 s), unless `registrar.max_expires` is lower.
pub const DEFAULT_EXPIRES: u32 = 3600;

/// The registrar's state: policy and every user's bindings.
pub struct Registrar {
    policy: RegistrarPolicy,
    /// Bindings by user name, best `q` first.
    bindings: BTreeMap<String, Vec<Binding>>,
    /// Accepted sets waiting for their store commit, by user, oldest first, with the job id.
    staged: BTreeMap<String, Vec<(u64, Vec<Binding>)>>,
}

impl Registrar {
    /// A registrar with this policy, and no bindings.
    pub fn new(policy: RegistrarPolicy) -> Registrar {
        Registrar {
            policy,
            bindings: BTreeMap::new(),
            staged: BTreeMap::new(),
        }
    }

    /// The registrar for a configuration: its users and passwords, open registration and
    /// the expiry bounds.
    pub fn from_config(config: &Config) -> Registrar {
        let users = config
            .users
            .iter()
            .map(|(name, user)| {
                let secret = user
                    .password
                    .as_ref()
                    .map(|p| Secret::Password(p.expose().to_owned()));
                (name.clone(), secret)
            })
            .collect();
        let max_expires = secs_u32(config.registrar.max_expires);
        let policy = RegistrarPolicy {
            domain: config.domain.clone(),
            users,
            open: config.open_registration(),
            min_expires: secs_u32(config.registrar.min_expires),
            max_expires,
            default_expires: DEFAULT_EXPIRES.min(max_expires),
            max_contacts: usize::try_from(config.registrar.max_contacts).unwrap_or(usize::MAX),
            own: OwnAddrs::new(&config.sip.listen, &config.domain),
        };
        Registrar::new(policy)
    }

    /// The policy.
    pub fn policy(&self) -> &RegistrarPolicy {
        &self.policy
    }

    /// Counts `addr` as one of callcomp's own addresses (the advertised one, once bound).
    pub fn add_own_addr(&mut self, addr: std::net::SocketAddr) {
        self.policy.own.add(addr);
    }

    /// Takes over bindings read from the store; expired and unparsable ones are dropped.
    pub fn load(&mut self, bindings: Vec<Binding>, now_ms: u64) {
        for b in bindings {
            if !b.is_live(now_ms) {
                continue;
            }
            let Some(user) = Uri::parse(&b.aor).ok().as_ref().and_then(aor_user) else {
                tracing::warn!(aor = %b.aor, "ignoring a stored binding whose AOR is not a SIP AOR");
                continue;
            };
            let list = self.bindings.entry(user).or_default();
            list.push(b);
            list.sort_by_key(|b| std::cmp::Reverse(b.preference()));
        }
    }

    /// Decides a REGISTER against the current bindings of its AOR: the last staged set, if
    /// one waits for its commit, else the committed one.
    pub fn decide(&self, req: RegisterRequest<'_>, auth: &mut Authenticator) -> Decision {
        let user = aor_user(&req.essentials.to.uri);
        let empty = Vec::new();
        let staged = &self.staged;
        let current = user
            .as_ref()
            .and_then(|u| {
                let last = staged.get(u).and_then(|s| s.last()).map(|(_, b)| b);
                last.or_else(|| self.bindings.get(u))
            })
            .unwrap_or(&empty);
        decide(req, current, &self.policy, auth)
    }

    /// Holds `bindings`, the outcome of an accepted REGISTER of `user`, until store job `job`
    /// finishes ([`Registrar::settle`]).
    pub fn stage(&mut self, user: &str, job: u64, bindings: Vec<Binding>) {
        self.staged
            .entry(user.to_owned())
            .or_default()
            .push((job, bindings));
    }

    /// Store job `job` finished: its staged set, if it was one, is no longer staged and is
    /// returned for the core to [`Registrar::apply`] (when it committed) or drop.
    pub fn settle(&mut self, job: u64) -> Option<Vec<Binding>> {
        let (user, at) = self.staged.iter().find_map(|(user, sets)| {
            sets.iter()
                .position(|(j, _)| *j == job)
                .map(|at| (user.clone(), at))
        })?;
        let sets = self.staged.get_mut(&user)?;
        let (_, bindings) = sets.remove(at);
        if sets.is_empty() {
            self.staged.remove(&user);
        }
        Some(bindings)
    }

    /// Makes `bindings` the user's whole set (after an accepted REGISTER).
    pub fn apply(&mut self, user: &str, bindings: Vec<Binding>) {
        if bindings.is_empty() {
            self.bindings.remove(user);
        } else {
            self.bindings.insert(user.to_owned(), bindings);
        }
    }

    /// The response for a decision. `to_tag` goes on the To of a final response.
    pub fn response(
        &self,
        decision: &Decision,
        request: &Message,
        to_tag: &str,
        now_ms: u64,
    ) -> Message {
        match decision {
            Decision::Challenge { challenges, .. } => {
                let mut out = builder::response(request, 401, None, to_tag);
                for c in challenges {
                    out.push(&WwwAuthenticate(c.clone()));
                }
                out
            }
            Decision::Reject { status, reason } => {
                builder::response(request, *status, Some(reason), to_tag)
            }
            Decision::TooBrief { min_expires } => {
                let mut out = builder::response(request, 423, None, to_tag);
                out.push(&MinExpires(*min_expires));
                out
            }
            Decision::Accept { bindings, .. } => {
                let mut out = builder::response(request, 200, None, to_tag);
                for b in bindings {
                    let mut value =
                        format!("<{}>;expires={}", b.contact_uri, b.remaining_secs(now_ms));
                    if let Some(q) = b.q {
                        value.push_str(&format!(";q={}", format_q(q)));
                    }
                    out.push_raw(callcomp_sip::HeaderName::Contact, value);
                }
                out
            }
        }
    }

    /// The live bindings of `user` at `now_ms`, best `q` first.
    pub fn contacts(&self, user: &str, now_ms: u64) -> Vec<&Binding> {
        self.bindings
            .get(user)
            .map(|list| list.iter().filter(|b| b.is_live(now_ms)).collect())
            .unwrap_or_default()
    }

    /// Whether `user` has a live binding.
    pub fn is_registered(&self, user: &str, now_ms: u64) -> bool {
        !self.contacts(user, now_ms).is_empty()
    }

    /// The users that have ever had a binding since start (still in memory).
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.bindings.keys().map(String::as_str)
    }

    /// The number of live bindings, for the registrations gauge.
    pub fn binding_count(&self, now_ms: u64) -> usize {
        self.bindings
            .values()
            .flatten()
            .filter(|b| b.is_live(now_ms))
            .count()
    }

    /// Drops bindings expired at `now_ms`; returns the users whose set changed.
    pub fn purge(&mut self, now_ms: u64) -> Vec<String> {
        let mut changed = Vec::new();
        self.bindings.retain(|user, list| {
            let before = list.len();
            list.retain(|b| b.is_live(now_ms));
            if list.len() != before {
                changed.push(user.clone());
            }
            !list.is_empty()
        });
        changed
    }

    /// The earliest expiry of any binding, in milliseconds since the epoch.
    pub fn next_expiry_ms(&self) -> Option<u64> {
        self.bindings
            .values()
            .flatten()
            .map(|b| b.expires_at_ms)
            .min()
    }
}

/// `q` in thousandths written as RFC 3261 §20.10 `qvalue` (`1`, `0.5`, `0.125`).
fn format_q(q: u16) -> String {
    if q >= 1000 {
        return "1".to_owned();
    }
    let s = format!("0.{q:03}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn secs_u32(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
