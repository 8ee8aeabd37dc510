//! The RFC 6910 monitor role in the core (DESIGN §3): what a phone that understands the
//! completion offer does next, turned into completion requests of the engine.
//!
//! - **SUBSCRIBE** `Event: call-completion` (§7.2) to the monitor URI of the offer
//!   (`sip:cc@domain`), to the callee's AOR, or to a request's own cc URI
//!   (`sip:cc-<id>@domain`): the subscriber's line (the identity gate decided it) asks for a
//!   callback on its newest failed call to the callee named by To (or the Request-URI). The
//!   request goes through the same checks, limits and durable accept as the API's
//!   lineCompleteCall; the 200 goes out only once it is stored. An outstanding request of
//!   the same line to the same callee is reused (§6.2: one per caller and destination).
//!   Refusals: 480 with `Retry-After` for a full queue or a line at its limit (short term),
//!   403 with the LINEERR name otherwise (long term), 482 for a redundant fork (same
//!   Call-ID as a live subscription), 489 for another package.
//! - **Refresh and unsubscribe**: a SUBSCRIBE in the dialog refreshes it; `Expires: 0`
//!   cancels the request (durably, like lineUncompleteCall) and the subscription ends with
//!   a final NOTIFY. A subscription that runs out cancels its request too (§9.4: its duration
//!   is the service duration); a NOTIFY answered 481 or never answered does the same.
//! - **PUBLISH** (§7.5-§7.6): PIDF `closed`/`open` feeds the engine's Suspend/Resume facts.
//! - **The CC call** (§6.4, §7.3): an INVITE to a request's cc URI, or carrying its
//!   `Call-Info`, while the request is selected: the engine's `CcCall` fact ends the request
//!   and keeps the callee reserved for this caller; the INVITE goes to the callee.
//!
//! NOTIFYs follow the engine's `completion` events (`Engine::notify_subscribers`).

use std::time::Duration;

use callcomp_sip::builder;
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::etag::SipETag;
use callcomp_sip::headers::event::Event;
use callcomp_sip::headers::numbers::RetryAfter;
use callcomp_sip::message::Message;
use callcomp_sip::transaction::TransactionKey;
use callcomp_sip::uri::Uri;
use callcomp_switch::{
    Caller, CompletionFact, CompletionId, CompletionMode, CompletionTarget, EventKind, LineErr,
    RequestState,
};

use super::{with_cx, Engine, Now};
use crate::b2bua::offer::{is_monitor_uri, request_of_call_info, request_of_uri};
use crate::identity::Identity;
use crate::registrar::aor_user;
use crate::subscription::call_completion::{self as cc, Change};
use crate::subscription::notifier::{requested_expires, Notifier};
use crate::subscription::publish::{self, Ask, Published};
use crate::transport::Target;

/// How long a phone refused for a full queue should wait (`Retry-After`).
pub const QUEUE_RETRY_AFTER_SECS: u32 = 60;

/// What an INVITE is, as far as the CC call (RFC 6910 §6.4) goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CcCall {
    /// No CC call: an ordinary INVITE.
    NotOne,
    /// A CC call for a request not selected now: readdressed to the callee, an ordinary call.
    Readdressed,
    /// The CC call of selected request `0`: the B2BUA reports its outcome (retention).
    Started(CompletionId),
}

/// A SIP request whose answer waits for a store job of the completion path.
#[derive(Debug)]
pub(crate) enum SipWait {
    /// A `call-completion` SUBSCRIBE whose new request is being stored.
    Subscribe {
        key: TransactionKey,
        request: Message,
        source: Target,
        line: String,
        expires: Duration,
    },
    /// The cancel an unsubscribe (or a subscription that ended) asked for.
    Unsubscribe { id: CompletionId },
    /// A dialled feature code.
    Code(super::feature_codes::Waiting),
}

/// Adds `Allow-Events` with the packages callcomp serves (RFC 6665 §8.2.2).
fn allow_events(response: &mut Message) {
    response.push_raw(
        HeaderName::AllowEvents,
        crate::subscription::ALLOW_EVENTS.join(", "),
    );
}

/// The answer refusing a request for completion with `error`: RFC 6910 §9.7's 480 (with
/// `Retry-After`) for what should pass soon, 503/500 for the store, 403 otherwise.
pub fn refusal(request: &Message, error: LineErr, tag: &str) -> Message {
    let mut response = match error {
        LineErr::ResourceUnavail | LineErr::CompletionOverrun => {
            let mut r = builder::response(request, 480, Some(error.name()), tag);
            r.push(&RetryAfter::new(QUEUE_RETRY_AFTER_SECS));
            r
        }
        LineErr::OperationFailed => builder::response(request, 500, Some(error.name()), tag),
        _ => builder::response(request, 403, Some(error.name()), tag),
    };
    allow_events(&mut response);
    response
}

impl Engine {
    /// A SUBSCRIBE outside a dialog (see the module documentation).
    pub(super) fn subscribe(
        &mut self,
        key: TransactionKey,
        request: Message,
        identity: &Identity,
        source: Target,
        now: Now,
    ) {
        let event = request.header::<Event>().and_then(Result::ok);
        if !event.is_some_and(|e| e.package.eq_ignore_ascii_case(cc::EVENT)) {
            let mut response = builder::response(&request, 489, None, &self.sip.tag());
            allow_events(&mut response);
            self.sip.respond(&key, response, now.instant);
            return;
        }
        if let Some(caller) = self.trunk_subscriber(&request, identity, source) {
            self.trunk_subscribe(key, request, caller, source, now);
            return;
        }
        let Some(line) = self.local_line(&key, &request, identity, now) else {
            return;
        };
        let Some((expires, uri)) = self.subscription_asked(&key, &request, now) else {
            return;
        };
        let existing = match request_of_uri(&uri) {
            Some(id) => match self.outstanding_of(&line, id) {
                Some(id) => Some(id),
                None => {
                    self.reply(&key, &request, 404, Some("No Such Completion Request"), now);
                    return;
                }
            },
            None => None,
        };
        let target = existing
            .is_none()
            .then(|| self.subscribed_callee(&request, &uri))
            .flatten();
        let existing = existing.or_else(|| {
            let target = target.as_deref()?;
            let switch = &*self.switch;
            let found = switch
                .completions_of(&line)
                .ok()?
                .into_iter()
                .find(|r| r.target == target && r.mode != CompletionMode::Message)
                .map(|r| r.id);
            found
        });
        if expires.is_zero() {
            self.unsubscribe_outside_dialog(&key, &request, &line, existing, now);
            return;
        }
        if let Some(id) = existing {
            self.establish(key, &request, source, &line, id, expires, now);
            return;
        }
        let call = target.as_deref().and_then(|t| {
            self.switch
                .last_completable_call(&line, Some(t), CompletionMode::Callback)
        });
        let Some(call) = call else {
            // RFC 6910 §7.2: a subscription that could never become ready is refused.
            self.reply(&key, &request, 403, Some("No Failed Call To Complete"), now);
            return;
        };
        let asked = self.request_completion(
            Some(&line),
            call.get(),
            CompletionMode::Callback.value(),
            0,
            now,
        );
        let wait = SipWait::Subscribe {
            key,
            request,
            source,
            line,
            expires,
        };
        self.subscribe_asked(asked, wait, now);
    }

    /// An unsubscribe (`Expires: 0`) with no subscription: the request it names, if any, is
    /// cancelled through `line` (the line speaking for it); `200` with `Expires: 0`.
    pub(super) fn unsubscribe_outside_dialog(
        &mut self,
        key: &TransactionKey,
        request: &Message,
        line: &str,
        existing: Option<CompletionId>,
        now: Now,
    ) {
        if let Some(id) = existing {
            if let Ok(job) = self.uncomplete_call(line, id.get(), now) {
                self.waits.insert(job, SipWait::Unsubscribe { id });
            }
        }
        let tag = self.sip.tag();
        let mut ok = builder::response(request, 200, None, &tag);
        ok.push_raw(HeaderName::Expires, "0");
        self.sip.respond(key, ok, now.instant);
    }

    /// A new request `asked` for the SUBSCRIBE in `wait`: its answer waits for the store
    /// (the 200 once stored), or it is refused now.
    pub(super) fn subscribe_asked(&mut self, asked: Result<u64, LineErr>, wait: SipWait, now: Now) {
        match (asked, wait) {
            (Ok(job), wait) => {
                self.waits.insert(job, wait);
                self.settle_waits(now);
            }
            (Err(e), SipWait::Subscribe { key, request, .. }) => {
                let response = refusal(&request, e, &self.sip.tag());
                self.sip.respond(&key, response, now.instant);
            }
            (Err(_), _) => {}
        }
    }

    /// What a new SUBSCRIBE asks for: its expiry and Request-URI; `None` once it is answered
    /// (400 for a bad `Expires`, 482 for a fork of a live subscription, RFC 6910 §7.2).
    pub(super) fn subscription_asked(
        &mut self,
        key: &TransactionKey,
        request: &Message,
        now: Now,
    ) -> Option<(Duration, Uri)> {
        let Some(expires) = requested_expires(request, cc::DEFAULT_EXPIRES) else {
            self.reply(key, request, 400, Some("Bad Expires"), now);
            return None;
        };
        let call_id = request
            .get_str(&HeaderName::CallId)
            .map(|c| c.into_owned())
            .unwrap_or_default();
        if self.subs.monitor.has_call_id(&call_id) {
            self.reply(key, request, 482, Some("Redundant Subscription"), now);
            return None;
        }
        Some((expires, request.uri()?.clone()))
    }

    /// The local line `identity` speaks for; a stranger (through a trusted peer that is not
    /// a trunk) is answered 403: callcomp is the monitor for its own users and for trunks'.
    fn local_line(
        &mut self,
        key: &TransactionKey,
        request: &Message,
        identity: &Identity,
        now: Now,
    ) -> Option<String> {
        let line = identity.user().map(str::to_owned);
        if line.is_none() {
            self.reply(
                key,
                request,
                403,
                Some("Call completion is for local users"),
                now,
            );
        }
        line
    }

    /// Request `id` if it is outstanding on `line`.
    fn outstanding_of(&self, line: &str, id: CompletionId) -> Option<CompletionId> {
        self.switch
            .completion(id)
            .filter(|r| r.caller.is_line(line))
            .map(|r| r.id)
    }

    /// The callee a SUBSCRIBE is about: the To user when it is a line (RFC 6910 §6.2: To is
    /// the original destination), else the Request-URI's user (subscribed at the callee's
    /// AOR).
    pub(super) fn subscribed_callee(&self, request: &Message, uri: &Uri) -> Option<String> {
        let switch = &*self.switch;
        let to = request
            .header::<callcomp_sip::headers::from_to::To>()
            .and_then(Result::ok)
            .and_then(|to| aor_user(&to.uri))
            .filter(|u| switch.line(u).is_some());
        to.or_else(|| {
            (!is_monitor_uri(uri))
                .then(|| aor_user(uri))
                .flatten()
                .filter(|u| switch.line(u).is_some())
        })
    }

    /// Forms the subscription of stored request `id`: granted for the time asked, at most
    /// what is left of the request's lifetime (RFC 6910 §9.4).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn establish(
        &mut self,
        key: TransactionKey,
        request: &Message,
        source: Target,
        line: &str,
        id: CompletionId,
        expires: Duration,
        now: Now,
    ) {
        let (state, left) = {
            let switch = &*self.switch;
            let r = switch.completion(id);
            (
                r.map(|r| r.state),
                r.map_or(Duration::ZERO, |r| r.expiry.saturating_since(now.wall)),
            )
        };
        let granted = expires.min(left).max(Duration::from_secs(1));
        let Some(notifier) = Notifier::accept(
            request,
            &self.sip.tag(),
            source,
            cc::EVENT,
            granted,
            now.instant,
        ) else {
            self.reply(&key, request, 400, Some("Missing From tag"), now);
            return;
        };
        tracing::info!(line, completion = id.get(), "call-completion subscription");
        self.subs.monitor.establish(
            &mut self.sip,
            &key,
            request,
            notifier,
            id,
            line,
            state,
            &self.config.domain,
            now.instant,
        );
    }

    /// A SUBSCRIBE in the dialog of request `id`'s subscription: a refresh, or with
    /// `Expires: 0` an unsubscribe that cancels the request.
    pub(super) fn resubscribe(
        &mut self,
        key: TransactionKey,
        request: Message,
        id: CompletionId,
        (source, seq): (Target, u32),
        now: Now,
    ) {
        if let Err((status, reason)) = self.subs.monitor.admit(id, source, seq) {
            self.reply(&key, &request, status, Some(reason), now);
            return;
        }
        let Some(expires) = requested_expires(&request, cc::DEFAULT_EXPIRES) else {
            self.reply(&key, &request, 400, Some("Bad Expires"), now);
            return;
        };
        let Some(line) = self.subs.monitor.line_of(id).map(str::to_owned) else {
            return;
        };
        if expires.is_zero() {
            if !self.subs.monitor.unsubscribing(id, key, request) {
                // The first unsubscribe's cancel is in flight: this one is answered with it.
                return;
            }
            match self.uncomplete_call(&line, id.get(), now) {
                Ok(job) => {
                    self.waits.insert(job, SipWait::Unsubscribe { id });
                }
                // Already ending: the subscription ends with it.
                Err(_) => {
                    self.subs
                        .monitor
                        .terminate(&mut self.sip, id, "noresource", now.instant);
                }
            }
            return;
        }
        let left = self
            .switch
            .completion(id)
            .map_or(Duration::ZERO, |r| r.expiry.saturating_since(now.wall));
        let granted = expires.min(left).max(Duration::from_secs(1));
        self.subs.monitor.refresh(
            &mut self.sip,
            &key,
            &request,
            id,
            granted,
            &self.config.domain,
            now.instant,
        );
    }

    /// A PUBLISH: suspend or resume the request it names (see the module documentation),
    /// from the request's own phone or, for another server's subscriber, from its trunk.
    pub(super) fn publish(
        &mut self,
        key: TransactionKey,
        request: Message,
        identity: &Identity,
        source: Target,
        now: Now,
    ) {
        let publication = match publish::read(&request) {
            Ok(p) => p,
            Err(refusal) => {
                let reason = refusal.to_string();
                let mut response =
                    builder::response(&request, refusal.status(), Some(&reason), &self.sip.tag());
                if refusal.status() == 489 {
                    allow_events(&mut response);
                }
                self.sip.respond(&key, response, now.instant);
                return;
            }
        };
        let (line, id) = match self.trunk_subscriber(&request, identity, source) {
            // Another server's subscriber publishes at its request's cc URI (RFC 6910 §6.5).
            Some(caller) => {
                let id = request.uri().and_then(request_of_uri).filter(|id| {
                    self.switch
                        .completion(*id)
                        .is_some_and(|r| r.caller.trunk() == Some(&caller))
                });
                (caller.aor, id)
            }
            None => {
                let Some(line) = self.local_line(&key, &request, identity, now) else {
                    return;
                };
                let id = self.published_request(&request, &line);
                (line, id)
            }
        };
        let Some(id) = id else {
            self.reply(&key, &request, 404, Some("No Such Completion Request"), now);
            return;
        };
        if let Some(tag) = &publication.if_match {
            if !self.subs.etags.matches(tag, id) {
                self.reply(&key, &request, 412, None, now);
                return;
            }
        }
        let fact = match publication.ask {
            Ask::Suspend => Some(CompletionFact::Suspend { id }),
            Ask::Resume => Some(CompletionFact::Resume { id }),
            Ask::Refresh => None,
        };
        if let Some(fact) = fact {
            tracing::info!(
                line,
                completion = id.get(),
                fact = fact.kind(),
                "RFC 6910 PUBLISH"
            );
            match self.switch.completion_fact(fact, now.wall) {
                Ok(events) => self.events.extend(events),
                Err(e) => tracing::debug!(error = %e, "suspend/resume refused"),
            }
        }
        let mut ok = builder::response(&request, 200, None, &self.sip.tag());
        if publication.expires.is_zero() {
            if let Some(tag) = &publication.if_match {
                self.subs.etags.remove(tag);
            }
            ok.push_raw(HeaderName::Expires, "0");
        } else {
            let state = match publication.ask {
                Ask::Suspend => Published::Closed,
                Ask::Resume => Published::Open,
                // A refresh keeps the state its tag carries (the tag matched above).
                Ask::Refresh => publication
                    .if_match
                    .as_deref()
                    .and_then(|t| self.subs.etags.state_of(t))
                    .unwrap_or(Published::Open),
            };
            let tag = self.subs.etags.issue(
                id,
                publication.if_match.as_deref(),
                state,
                now.instant + publication.expires,
            );
            ok.push(&SipETag(tag));
            ok.push_raw(
                HeaderName::Expires,
                publication.expires.as_secs().to_string(),
            );
        }
        self.sip.respond(&key, ok, now.instant);
    }

    /// The request a PUBLISH is for: the one its Request-URI names (§7.5, the `cc-URI`), else
    /// the caller's only outstanding request (§7.5 lets the monitor fall back to From).
    fn published_request(&self, request: &Message, line: &str) -> Option<CompletionId> {
        if let Some(id) = request.uri().and_then(request_of_uri) {
            return self.outstanding_of(line, id);
        }
        let switch = &*self.switch;
        let mine = switch.completions_of(line).ok()?;
        match mine.as_slice() {
            [only] => Some(only.id),
            _ => None,
        }
    }

    /// An INVITE that is a CC call (to a request's cc URI, or carrying its Call-Info): what it
    /// is ([`CcCall`]; a recognised one is readdressed to the callee), or `Err` with the answer
    /// refusing it. The request's caller must be the one calling: its line, or (for another
    /// server's subscriber) its trunk and AOR.
    pub(super) fn cc_call(
        &mut self,
        request: &mut Message,
        identity: &Identity,
        source: Target,
        now: Now,
    ) -> Result<CcCall, (u16, &'static str)> {
        let by_uri = request.uri().and_then(request_of_uri);
        let Some(id) = by_uri.or_else(|| request_of_call_info(request)) else {
            return Ok(CcCall::NotOne);
        };
        let calling = match identity.user() {
            Some(line) => Some(Caller::Line(line.to_owned())),
            None => self
                .trunk_subscriber(request, identity, source)
                .map(Caller::Trunk),
        };
        let (target, state) = {
            let switch = &*self.switch;
            match switch.completion(id) {
                Some(r) if Some(&r.caller) == calling.as_ref() => (r.target.clone(), r.state),
                // A Call-Info naming someone else's or an ended request on an ordinary call:
                // an ordinary call.
                _ if by_uri.is_none() => return Ok(CcCall::NotOne),
                Some(_) => return Err((403, "Not The Request's Caller")),
                None => return Err((404, "No Such Completion Request")),
            }
        };
        let mut kind = CcCall::Readdressed;
        if matches!(state, RequestState::Ready | RequestState::Recalling) {
            tracing::info!(completion = id.get(), "CC call (RFC 6910 §6.4)");
            match self
                .switch
                .completion_fact(CompletionFact::CcCall { id }, now.wall)
            {
                Ok(events) => {
                    self.events.extend(events);
                    kind = CcCall::Started(id);
                }
                Err(e) => tracing::debug!(error = %e, "CC call fact refused"),
            }
        }
        if by_uri.is_some() {
            // A remote callee's CC call goes on over the trunk to its monitor's cc-URI.
            let uri = match &target {
                CompletionTarget::Line(line) => format!("sip:{line}@{}", self.config.domain),
                CompletionTarget::Remote(remote) => remote.cc_call_uri().to_owned(),
            };
            if let Ok(uri) = Uri::parse(&uri) {
                request.set_uri(uri);
            }
        }
        Ok(kind)
    }

    /// Answers the SIP requests whose store job finished (after [`Engine::store_done`]).
    pub(super) fn settle_waits(&mut self, now: Now) {
        if self.waits.is_empty() {
            return;
        }
        let mut mine = Vec::new();
        let waits = &self.waits;
        self.completion.replies.retain(|(job, result)| {
            if waits.contains_key(job) {
                mine.push((*job, *result));
                false
            } else {
                true
            }
        });
        for (job, result) in mine {
            let Some(wait) = self.waits.remove(&job) else {
                continue;
            };
            match wait {
                SipWait::Subscribe {
                    key,
                    request,
                    source,
                    line,
                    expires,
                } => match result.map(CompletionId::new) {
                    Ok(Some(id)) => self.establish(key, &request, source, &line, id, expires, now),
                    Ok(None) => self.reply(&key, &request, 500, None, now),
                    Err(e) => {
                        let response = refusal(&request, e, &self.sip.tag());
                        self.sip.respond(&key, response, now.instant);
                    }
                },
                SipWait::Unsubscribe { id } => match result {
                    Ok(_) => {}
                    Err(LineErr::InvalCompletionId) => {
                        self.subs
                            .monitor
                            .terminate(&mut self.sip, id, "noresource", now.instant);
                    }
                    Err(e) => {
                        let status = if e == LineErr::ResourceUnavail {
                            503
                        } else {
                            500
                        };
                        self.subs.monitor.unsubscribe_failed(
                            &mut self.sip,
                            id,
                            status,
                            now.instant,
                        );
                    }
                },
                SipWait::Code(waiting) => self.code_settled(job, waiting, result, now),
            }
        }
    }

    /// Sends the NOTIFYs the engine's `completion` events since the last look call for.
    pub(super) fn notify_subscribers(&mut self, now: Now) {
        let changes: Vec<(CompletionId, Change)> = self
            .events
            .iter()
            .skip(self.notified)
            .filter_map(|e| match &e.kind {
                EventKind::Completion(c) => Some((c.completion_id, Change::of(c.state, c.cause))),
                _ => None,
            })
            .collect();
        self.notified = self.events.len();
        for (id, change) in changes {
            if matches!(change, Change::Ended(_)) {
                self.subs.etags.forget(id);
            }
            self.subs
                .monitor
                .change(&mut self.sip, id, change, &self.config.domain, now.instant);
        }
    }

    /// The subscriptions' timers: dialog watches' refreshes, deferred NOTIFYs, and
    /// subscriptions that ran out (their requests are cancelled).
    pub(super) fn subscriptions_on_timer(&mut self, now: Now) {
        with_cx!(self, now, |cx| self.subs.watches.on_timer(&mut cx));
        // RFC 3903: published state that ran out is gone; a suspension with it (RFC 6910 §5).
        for id in self.subs.etags.expire(now.instant) {
            tracing::info!(
                completion = id.get(),
                "RFC 6910 PUBLISH ran out: the request resumes"
            );
            match self
                .switch
                .completion_fact(CompletionFact::Resume { id }, now.wall)
            {
                Ok(events) => self.events.extend(events),
                Err(e) => tracing::debug!(error = %e, "resume refused"),
            }
        }
        with_cx!(self, now, |cx| self.subs.agents.on_timer(&mut cx));
        let expired = self
            .subs
            .monitor
            .on_timer(&mut self.sip, &self.config.domain, now.instant);
        for (line, id) in expired.requests {
            tracing::info!(
                line,
                completion = id.get(),
                "call-completion subscription ran out"
            );
            self.cancel_for_subscription(&line, id, now);
        }
    }

    /// A subscription is gone (it ran out, or its subscriber answered 481 or not at all): the
    /// request it carried is cancelled.
    pub(super) fn cancel_for_subscription(&mut self, line: &str, id: CompletionId, now: Now) {
        if let Ok(job) = self.uncomplete_call(line, id.get(), now) {
            self.waits.insert(job, SipWait::Unsubscribe { id });
        }
    }
}
