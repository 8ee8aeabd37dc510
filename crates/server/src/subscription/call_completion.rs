//! The monitor's subscriptions of the `call-completion` event package (RFC 6910 §7.2-§7.6,
//! §9): one subscription per completion request, its NOTIFYs, refreshes and termination.
//!
//! A subscription *is* a completion request of the engine (the core accepts the request
//! through the durable path before the 200); this module only keeps the dialog and says on
//! the wire what the request does:
//!
//! | request (engine `completion` event) | NOTIFY |
//! |---|---|
//! | `queued`, `suspended`, `ready` (the guard) | `cc-state: queued` |
//! | `recalling` (the callee is free, the recall rings) | `cc-state: ready` |
//! | `completed` | `terminated;reason=noresource` |
//! | `cancelled` (`expired`) / any other cause | `terminated;reason=timeout` / `noresource` |
//!
//! Every NOTIFY with a state carries `cc-service-retention: true` (a CC call that finds the
//! callee busy keeps the entry's place, RFC 6910 §3) and the request's own `cc-URI`
//! (`sip:cc-<id>@domain`). NOTIFYs are sent only when the `cc-state` changes, at most three
//! in ten seconds, `ready` never as the third ([`Notifier::next_slot`]).

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use callcomp_sip::body::call_completion::{self, CallCompletion, CcState};
use callcomp_sip::headers::subscription_state::SubscriptionState;
use callcomp_sip::message::Message;
use callcomp_sip::transaction::TransactionKey;
use callcomp_switch::{CancelCause, CompletionId, CompletionPhase, RequestState};

use super::notifier::Notifier;
use crate::b2bua::offer::request_cc_uri;
use crate::core::transactions::Transactions;
use crate::identity;
use crate::transport::Target;

/// The event package.
pub const EVENT: &str = "call-completion";

/// RFC 6910 §9.4: the default subscription duration, which is the service duration.
pub const DEFAULT_EXPIRES: Duration = Duration::from_secs(3600);

/// The `cc-state` a request in `state` shows: only a request whose recall rings is `ready`.
pub fn cc_state_of(state: RequestState) -> CcState {
    match state {
        RequestState::Recalling => CcState::Ready,
        RequestState::Queued | RequestState::Suspended | RequestState::Ready => CcState::Queued,
    }
}

/// What a `completion` event means for the subscription of its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The request is in this `cc-state` now.
    State(CcState),
    /// The request ended; the subscription terminates with this reason.
    Ended(&'static str),
}

impl Change {
    /// The change a `completion` event in `phase` (with `cause` when cancelled) makes.
    pub fn of(phase: CompletionPhase, cause: Option<CancelCause>) -> Change {
        match phase {
            CompletionPhase::Queued | CompletionPhase::Suspended | CompletionPhase::Ready => {
                Change::State(CcState::Queued)
            }
            CompletionPhase::Recalling => Change::State(CcState::Ready),
            CompletionPhase::Completed => Change::Ended("noresource"),
            CompletionPhase::Cancelled => match cause {
                Some(CancelCause::Expired) => Change::Ended("timeout"),
                _ => Change::Ended("noresource"),
            },
        }
    }
}

/// The body of a NOTIFY in `state` for request `id`.
pub fn body(state: CcState, domain: &str, id: CompletionId) -> CallCompletion {
    CallCompletion {
        state: Some(state),
        service_retention: true,
        uri: request_cc_uri(domain, id).map(|u| u.to_string()),
        extensions: Vec::new(),
    }
}

/// One request's subscription.
#[derive(Debug)]
struct CcSubscription {
    notifier: Notifier,
    /// The subscriber's line (the request's caller).
    line: String,
    /// The `cc-state` last sent.
    sent: Option<CcState>,
    /// A `cc-state` waiting for the rate limit.
    wanted: Option<CcState>,
    /// Unsubscribes (SUBSCRIBE `Expires: 0`) waiting for the request's cancel to commit:
    /// their transactions and requests, each answered 200 before the final NOTIFY (or each
    /// refused if the cancel fails). A second one, before the first is answered, waits too.
    unsubscribing: Vec<(TransactionKey, Message)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// The subscription runs out.
    Expires,
    /// A NOTIFY held back by the rate limit may go.
    Deferred,
}

/// Every `call-completion` subscription (see the module documentation).
#[derive(Debug, Default)]
pub struct Monitor {
    subs: HashMap<CompletionId, CcSubscription>,
    /// (Call-ID, our tag) → the request.
    dialogs: HashMap<(String, String), CompletionId>,
    /// Call-ID → how many of `dialogs` have it (for [`Monitor::has_call_id`], per SUBSCRIBE).
    call_ids: HashMap<String, usize>,
    /// NOTIFY client transactions → the request.
    clients: HashMap<TransactionKey, CompletionId>,
    timers: BTreeSet<(Instant, CompletionId, Timer)>,
}

/// What the core must do after the monitor's timers ran.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expired {
    /// Requests whose subscription ran out unrefreshed: the service ends with them (RFC 6910
    /// §9.4), so the core cancels them.
    pub requests: Vec<(String, CompletionId)>,
}

impl Monitor {
    /// No subscription.
    pub fn new() -> Monitor {
        Monitor::default()
    }

    /// Whether request `id` has a subscription.
    pub fn is_subscribed(&self, id: CompletionId) -> bool {
        self.subs.contains_key(&id)
    }

    /// How many subscriptions are live.
    pub fn len(&self) -> usize {
        self.subs.len()
    }

    /// Whether no subscription is live.
    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// The request of the subscription dialog (Call-ID, our tag), if it is one.
    pub fn by_dialog(&self, call_id: &str, tag: &str) -> Option<CompletionId> {
        self.dialogs
            .get(&(call_id.to_owned(), tag.to_owned()))
            .copied()
    }

    /// The Call-ID of request `id`'s subscription (RFC 6910 §7.2: a SUBSCRIBE with the same
    /// Call-ID as a live one is a redundant fork, 482).
    pub fn call_id_of(&self, id: CompletionId) -> Option<&str> {
        self.subs
            .get(&id)
            .map(|s| s.notifier.dialog.call_id.as_str())
    }

    /// Whether any live subscription has this Call-ID.
    pub fn has_call_id(&self, call_id: &str) -> bool {
        self.call_ids.contains_key(call_id)
    }

    /// Indexes the subscription dialog `key` of request `id`.
    fn index(&mut self, key: (String, String), id: CompletionId) {
        let call_id = key.0.clone();
        if self.dialogs.insert(key, id).is_none() {
            *self.call_ids.entry(call_id).or_default() += 1;
        }
    }

    /// Forgets the subscription dialog `key`.
    fn unindex(&mut self, key: &(String, String)) {
        if self.dialogs.remove(key).is_none() {
            return;
        }
        if let Some(n) = self.call_ids.get_mut(&key.0) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.call_ids.remove(&key.0);
            }
        }
    }

    /// When [`Monitor::on_timer`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _, _)| *at)
    }

    /// Establishes the subscription of request `id` of `line` (already accepted and stored)
    /// from the SUBSCRIBE `request` on transaction `key`: 200, then the first NOTIFY with
    /// the request's `state` (`None`: it already ended, the NOTIFY terminates). A previous
    /// subscription of the same request (another Call-ID, RFC 6910 §7.2) is terminated.
    #[allow(clippy::too_many_arguments)]
    pub fn establish(
        &mut self,
        sip: &mut Transactions,
        key: &TransactionKey,
        request: &Message,
        notifier: Notifier,
        id: CompletionId,
        line: &str,
        state: Option<RequestState>,
        domain: &str,
        now: Instant,
    ) {
        if self.subs.contains_key(&id) {
            self.terminate(sip, id, "deactivated", now);
        }
        sip.respond(key, notifier.ok(request, sip, now), now);
        self.index(notifier.key(), id);
        self.timers
            .insert((notifier.expires_at, id, Timer::Expires));
        self.subs.insert(
            id,
            CcSubscription {
                notifier,
                line: line.to_owned(),
                sent: None,
                wanted: None,
                unsubscribing: Vec::new(),
            },
        );
        match state {
            Some(state) => self.want(sip, id, cc_state_of(state), domain, now),
            None => self.terminate(sip, id, "noresource", now),
        }
    }

    /// A refresh of request `id`'s subscription granted for `granted`: 200 and a NOTIFY of
    /// the current state (RFC 6665 §4.2.1.2).
    #[allow(clippy::too_many_arguments)]
    pub fn refresh(
        &mut self,
        sip: &mut Transactions,
        key: &TransactionKey,
        request: &Message,
        id: CompletionId,
        granted: Duration,
        domain: &str,
        now: Instant,
    ) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        let old = sub.notifier.expires_at;
        sub.notifier.refresh(request, granted, now);
        let at = sub.notifier.expires_at;
        sip.respond(key, sub.notifier.ok(request, sip, now), now);
        self.timers.remove(&(old, id, Timer::Expires));
        self.timers.insert((at, id, Timer::Expires));
        if let Some(state) = sub.sent.take() {
            self.want(sip, id, state, domain, now);
        }
    }

    /// An unsubscribe of request `id` waits for the request's cancel to commit; the 200 and
    /// the final NOTIFY go out when the request ends ([`Monitor::change`]). Whether it is
    /// the first one waiting (the one whose cancel is to be started); a later one is answered
    /// with it.
    pub fn unsubscribing(
        &mut self,
        id: CompletionId,
        key: TransactionKey,
        request: Message,
    ) -> bool {
        let Some(sub) = self.subs.get_mut(&id) else {
            return false;
        };
        sub.unsubscribing.push((key, request));
        sub.unsubscribing.len() == 1
    }

    /// Whether a request in the dialog of request `id`'s subscription may be taken: it must
    /// come from the dialog's peer (the address it subscribed from, or its Contact; as the
    /// B2BUA's dialogs, so knowing a Call-ID and tags is not enough to cancel someone's
    /// request) and carry a CSeq above the last (RFC 3261 §12.2.2). The refusal's status and
    /// reason otherwise.
    pub fn admit(
        &mut self,
        id: CompletionId,
        source: Target,
        seq: u32,
    ) -> Result<(), (u16, &'static str)> {
        let Some(sub) = self.subs.get_mut(&id) else {
            return Err((481, "Subscription Does Not Exist"));
        };
        let dialog = &mut sub.notifier.dialog;
        if !identity::from_dialog_peer(source, dialog.target, &dialog.remote_target) {
            return Err((403, "Not from the dialog's peer"));
        }
        if !dialog.accept_remote_seq(seq) {
            return Err((500, "CSeq out of order"));
        }
        Ok(())
    }

    /// The line that subscribed to request `id`.
    pub fn line_of(&self, id: CompletionId) -> Option<&str> {
        self.subs.get(&id).map(|s| s.line.as_str())
    }

    /// The cancel an unsubscribe waited for failed: the SUBSCRIBE gets `status`, and the
    /// subscription stays.
    pub fn unsubscribe_failed(
        &mut self,
        sip: &mut Transactions,
        id: CompletionId,
        status: u16,
        now: Instant,
    ) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        for (key, request) in sub.unsubscribing.drain(..) {
            let response = callcomp_sip::builder::response(&request, status, None, "");
            sip.respond(&key, response, now);
        }
    }

    /// Request `id` changed as an engine `completion` event says.
    pub fn change(
        &mut self,
        sip: &mut Transactions,
        id: CompletionId,
        change: Change,
        domain: &str,
        now: Instant,
    ) {
        if !self.subs.contains_key(&id) {
            return;
        }
        match change {
            Change::State(state) => self.want(sip, id, state, domain, now),
            Change::Ended(reason) => self.terminate(sip, id, reason, now),
        }
    }

    /// Sends `state` now if it changed and the rate limit allows, else keeps it for later.
    fn want(
        &mut self,
        sip: &mut Transactions,
        id: CompletionId,
        state: CcState,
        domain: &str,
        now: Instant,
    ) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        if sub.sent.as_ref() == Some(&state) {
            sub.wanted = None;
            return;
        }
        let slot = sub.notifier.next_slot(now, state == CcState::Ready);
        if slot > now {
            sub.wanted = Some(state);
            self.timers.insert((slot, id, Timer::Deferred));
            return;
        }
        let doc = body(state.clone(), domain, id);
        let substate = SubscriptionState::active(sub.notifier.remaining(now));
        let sent = sub.notifier.notify(
            sip,
            &substate,
            Some((call_completion::CONTENT_TYPE, doc.to_bytes())),
            now,
        );
        sub.sent = Some(state);
        sub.wanted = None;
        if let Some(key) = sent {
            self.clients.insert(key, id);
        }
    }

    /// Ends request `id`'s subscription with a final NOTIFY (`terminated;reason=…`); a
    /// waiting unsubscribe gets its 200 first.
    pub fn terminate(
        &mut self,
        sip: &mut Transactions,
        id: CompletionId,
        reason: &str,
        now: Instant,
    ) {
        let Some(mut sub) = self.subs.remove(&id) else {
            return;
        };
        // A NOTIFY of this subscription still in flight must not speak for a later one.
        self.clients.retain(|_, of| *of != id);
        for (key, request) in sub.unsubscribing.drain(..) {
            let mut ok = callcomp_sip::builder::response(&request, 200, None, "");
            ok.push_raw(callcomp_sip::HeaderName::Expires, "0");
            sip.respond(&key, ok, now);
        }
        self.unindex(&sub.notifier.key());
        self.timers.retain(|(_, i, _)| *i != id);
        let state = SubscriptionState::terminated(Some(reason));
        // The final NOTIFY's answer needs nothing: the subscription is gone either way.
        let _ = sub.notifier.notify(sip, &state, None, now);
    }

    /// Fires the timers due at `now`: deferred NOTIFYs go out; subscriptions that ran out
    /// end (their requests are for the core to cancel).
    pub fn on_timer(&mut self, sip: &mut Transactions, domain: &str, now: Instant) -> Expired {
        let mut expired = Expired::default();
        while let Some(&(at, id, timer)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, id, timer));
            match timer {
                Timer::Deferred => {
                    let wanted = self.subs.get_mut(&id).and_then(|s| s.wanted.take());
                    if let Some(state) = wanted {
                        self.want(sip, id, state, domain, now);
                    }
                }
                Timer::Expires => {
                    if let Some(line) = self.subs.get(&id).map(|s| s.line.clone()) {
                        self.terminate(sip, id, "timeout", now);
                        expired.requests.push((line, id));
                    }
                }
            }
        }
        expired
    }

    /// Whether `key` is one of our NOTIFY transactions.
    pub fn owns(&self, key: &TransactionKey) -> bool {
        self.clients.contains_key(key)
    }

    /// The subscriber's answer to a NOTIFY; a 481, or no answer at all (`None`), means the
    /// subscription is gone (RFC 6665 §4.2.2): it ends here, and the request it carried is
    /// returned (with its line) for the core to cancel.
    pub fn notify_answered(
        &mut self,
        key: &TransactionKey,
        status: Option<u16>,
    ) -> Option<(String, CompletionId)> {
        if status.is_some_and(|s| s < 200) {
            return None;
        }
        let id = self.clients.remove(key)?;
        if !matches!(status, None | Some(481)) {
            return None;
        }
        let sub = self.subs.remove(&id)?;
        self.unindex(&sub.notifier.key());
        self.timers.retain(|(_, i, _)| *i != id);
        Some((sub.line, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_states_map_to_cc_states() {
        assert_eq!(cc_state_of(RequestState::Queued), CcState::Queued);
        assert_eq!(cc_state_of(RequestState::Suspended), CcState::Queued);
        assert_eq!(cc_state_of(RequestState::Ready), CcState::Queued);
        assert_eq!(cc_state_of(RequestState::Recalling), CcState::Ready);
        assert_eq!(
            Change::of(CompletionPhase::Recalling, None),
            Change::State(CcState::Ready)
        );
        assert_eq!(
            Change::of(CompletionPhase::Suspended, None),
            Change::State(CcState::Queued)
        );
        assert_eq!(
            Change::of(CompletionPhase::Completed, None),
            Change::Ended("noresource")
        );
        assert_eq!(
            Change::of(CompletionPhase::Cancelled, Some(CancelCause::Expired)),
            Change::Ended("timeout")
        );
        assert_eq!(
            Change::of(CompletionPhase::Cancelled, Some(CancelCause::Uncompleted)),
            Change::Ended("noresource")
        );
    }

    /// RFC 6910 §10 / the §8 example's third message, with our URI.
    #[test]
    fn the_body_carries_state_retention_and_the_request_uri() {
        let id = CompletionId::new(7).unwrap();
        let text = String::from_utf8(body(CcState::Queued, "example.com", id).to_bytes()).unwrap();
        assert_eq!(
            text,
            "cc-state: queued\r\ncc-service-retention: true\r\ncc-URI: sip:cc-7@example.com\r\n"
        );
        let back = CallCompletion::parse(text.as_bytes()).unwrap();
        assert_eq!(back, body(CcState::Queued, "example.com", id));
        assert_eq!(
            back.parsed_uri().unwrap().unwrap().to_string(),
            "sip:cc-7@example.com"
        );
    }
}
