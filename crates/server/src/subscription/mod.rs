//! SIP-specific event notification (RFC 6665) as callcomp uses it, each subscription a job
//! of its own with its own dialogs, transactions and timers (not a guest of the B2BUA):
//!
//! - [`notifier`]: the notifier side of one subscription (dialog, expiry, refresh, NOTIFY,
//!   the RFC 6910 §9.11 rate limit);
//! - [`call_completion`]: the monitor role of RFC 6910 (§7): `call-completion`
//!   subscriptions, one per completion request, and their NOTIFYs;
//! - [`publish`]: suspend and resume by PUBLISH (RFC 6910 §7.5-§7.6, RFC 3903);
//! - [`agent`]: the RFC 6910 agent role (§5) toward another server's monitor, for a local
//!   user's call that failed over a trunk: the request's states and the messages it sends;
//! - [`agents`]: those subscriptions on the wire (over the trunk: dialog, refresh, NOTIFYs,
//!   PUBLISH suspend/resume, unsubscribe), wired to the engine;
//! - [`watch`]: the subscriber side, RFC 4235 dialog-state watches of callees (dialog,
//!   refresh, unsubscribe);
//! - [`subscriber`]: what the watches and the agents share as subscribers (granted time,
//!   refresh time, in-dialog SUBSCRIBEs).
//!
//! The core ([`crate::core`]) wires them to the engine: a `call-completion` SUBSCRIBE becomes
//! a completion request through the durable accept path before its 200.

pub mod agent;
pub mod agents;
pub mod call_completion;
pub mod notifier;
pub mod publish;
pub mod subscriber;
pub mod watch;

use std::time::Instant;

/// The event packages callcomp serves as a notifier, for `Allow-Events` (RFC 6665 §8.2.2:
/// a node listing a package can answer SUBSCRIBE and send NOTIFY for it).
pub const ALLOW_EVENTS: &[&str] = &[call_completion::EVENT];

/// Every subscription callcomp holds.
#[derive(Debug, Default)]
pub struct Subscriptions {
    /// RFC 6910 `call-completion` subscriptions (callcomp is the notifier).
    pub monitor: call_completion::Monitor,
    /// The entity tags of suspend/resume PUBLISHes.
    pub etags: publish::Etags,
    /// RFC 4235 dialog watches (callcomp is the subscriber).
    pub watches: watch::Watches,
    /// RFC 6910 agent subscriptions at other servers' monitors (callcomp is the subscriber).
    pub agents: agents::Agents,
}

impl Subscriptions {
    /// None yet.
    pub fn new() -> Subscriptions {
        Subscriptions::default()
    }

    /// When a timer of a subscription is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.monitor.poll_timeout(),
            self.watches.poll_timeout(),
            self.etags.poll_timeout(),
            self.agents.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}
