//! The RFC 6910 monitor role for another server's subscriber (docs/completion.md, "Agent role
//! toward other servers", step 3): a `call-completion` SUBSCRIBE from a `[[trunks]]` peer's
//! address, for a local callee whose call from that subscriber failed here with the offer.
//!
//! - The request's caller is the trunk subscriber (`Caller::Trunk`: the trunk and the From's
//!   AOR), not a line: the switch has no caller side for it. It is checked against the
//!   trunk's `max_call_completions`, built by the switch
//!   (`Switch::prepare_trunk_completion`) and stored through the accept path of every
//!   request; the `200` goes out once the row committed.
//! - It waits in the callee's queue as any request; when selected its `ready` is only the
//!   NOTIFY to the trunk: callcomp never recalls it. The other server recalls its user and
//!   places the CC call over the trunk (to the request's cc URI, or with its Call-Info),
//!   which completes it and rings the callee, reserved for it meanwhile (`Engine::cc_call`).
//!   Without a CC call within `completion.recall_ring` the attempt failed (retention).
//! - One request per subscriber and callee (§6.2): a second SUBSCRIBE attaches to it;
//!   `Expires: 0` cancels it. The API lists it among the callee's waiting requests and
//!   cancels it through the callee's line.

use callcomp_sip::headers::from_to::From as FromHeader;
use callcomp_sip::message::Message;
use callcomp_sip::transaction::TransactionKey;
use callcomp_sip::uri::Uri;
use callcomp_switch::TrunkCaller;

use super::monitor::SipWait;
use super::{Engine, Now};
use crate::b2bua::offer::request_of_uri;
use crate::b2bua::trunk_failures::trunk_caller;
use crate::identity::Identity;
use crate::transport::Target;

impl Engine {
    /// `who` as the gate decided it, corrected for trunks: a trunk's user whose From is in the
    /// trunk's domain is the trunk's, even when a password-less local user has its name (the
    /// gate takes a trusted peer's password-less From as that local user).
    pub(super) fn trunk_identity(&self, who: Identity, from: &Uri, source: Target) -> Identity {
        let unproven = matches!(
            who,
            Identity::User {
                authenticated: false,
                ..
            }
        );
        if unproven && trunk_caller(&self.config, source, from).is_some() {
            Identity::External
        } else {
            who
        }
    }

    /// The trunk subscriber `request` speaks for: no local user, from a trunk's address, with
    /// a From naming a user.
    pub(super) fn trunk_subscriber(
        &self,
        request: &Message,
        identity: &Identity,
        source: Target,
    ) -> Option<TrunkCaller> {
        if identity.user().is_some() {
            return None;
        }
        let from = request.header::<FromHeader>().and_then(Result::ok)?;
        trunk_caller(&self.config, source, &from.0.uri)
    }

    /// A trunk subscriber's SUBSCRIBE outside a dialog (see the module documentation).
    pub(super) fn trunk_subscribe(
        &mut self,
        key: TransactionKey,
        request: Message,
        caller: TrunkCaller,
        source: Target,
        now: Now,
    ) {
        let Some((expires, uri)) = self.subscription_asked(&key, &request, now) else {
            return;
        };
        // A request's own cc URI names it; it must be this subscriber's.
        let named = match request_of_uri(&uri) {
            Some(id) => {
                let mine = self
                    .switch
                    .completion(id)
                    .filter(|r| r.caller.trunk() == Some(&caller))
                    .map(|r| (r.id, r.target.key().to_owned()));
                if mine.is_none() {
                    self.reply(&key, &request, 404, Some("No Such Completion Request"), now);
                    return;
                }
                mine
            }
            None => None,
        };
        let target = match &named {
            Some((_, target)) => Some(target.clone()),
            None => self.subscribed_callee(&request, &uri),
        };
        let Some(target) = target else {
            self.reply(&key, &request, 404, Some("No Such Callee"), now);
            return;
        };
        let existing = named
            .map(|(id, _)| id)
            .or_else(|| self.switch.trunk_completion(&caller, &target).map(|r| r.id));
        if expires.is_zero() {
            self.unsubscribe_outside_dialog(&key, &request, &target, existing, now);
            return;
        }
        if let Some(id) = existing {
            self.establish(key, &request, source, &target, id, expires, now);
            return;
        }
        let Some(condition) = self.b2bua.trunk_failure(&caller, &target, now.instant) else {
            // RFC 6910 §7.2: a subscription that could never become ready is refused.
            self.reply(&key, &request, 403, Some("No Failed Call To Complete"), now);
            return;
        };
        let max = self
            .config
            .trunk_for(&caller.trunk)
            .map_or(0, |t| t.max_call_completions);
        tracing::info!(
            trunk = caller.trunk,
            aor = caller.aor,
            callee = target,
            "trunk subscriber asks for completion"
        );
        let asked = self.request_trunk_completion(caller, &target, condition, max, now);
        let wait = SipWait::Subscribe {
            key,
            request,
            source,
            line: target,
            expires,
        };
        self.subscribe_asked(asked, wait, now);
    }
}
