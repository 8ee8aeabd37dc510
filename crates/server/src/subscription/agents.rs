//! The agent role's subscriptions on the wire (RFC 6910 §5-§6; issue #11 item 4): for each
//! completion request whose callee is on another server, a `call-completion` subscription to
//! that server's monitor, sent over the callee's trunk. Wired like the dialog watches
//! ([`super::watch`]): the 2xx forms the dialog, a refresh goes out in it before the granted
//! time runs out ([`super::subscriber`], shared with the watches), `Expires: 0` unsubscribes. What each message
//! means for the request is [`super::agent::RemoteRequest`]'s state machine; this module
//! carries out its actions and tells the engine what the monitor said:
//!
//! - NOTIFY `cc-state: ready` → [`CompletionFact::RemoteReady`] (the engine then recalls the
//!   own user; her answer places the CC call, `b2bua::recall_remote`);
//! - NOTIFY `terminated` before the CC call, or a refused SUBSCRIBE → [`CompletionFact::RemoteEnded`]
//!   (`monitor_terminated`, `expired` for reason `timeout`, `monitor_refused`);
//! - the engine's own changes ([`Agents::phase`]): suspended → PUBLISH `closed`, back in the
//!   queue → PUBLISH `open` (if it was suspended), cancelled by the user → unsubscribe.
//!
//! A NOTIFY is believed only from the trunk the subscription went to (its IP address). Subscriptions are soft
//! state (RFC 6665): the request's row keeps its remote target (AOR, monitor, `m`, `cc-URI`)
//! and a restart subscribes again, to the `cc-URI` when one was named.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use callcomp_sip::body::call_completion::CallCompletion;
use callcomp_sip::body::pidf::{Basic, Pidf};
use callcomp_sip::builder;
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::cseq::CSeq;
use callcomp_sip::headers::etag::{SipETag, SipIfMatch};
use callcomp_sip::headers::numbers::MaxForwards;
use callcomp_sip::headers::subscription_state::{SubState, SubscriptionState};
use callcomp_sip::message::Message;
use callcomp_sip::method::Method;
use callcomp_sip::transaction::TransactionKey;
use callcomp_sip::uri::Uri;
use callcomp_switch::{CancelCause, CompletionFact, CompletionId, CompletionPhase, RemoteTarget};

use super::agent::{self, Action, AgentEnd, AgentState, Input, RemoteOffer, RemoteRequest};
use super::call_completion::EVENT;
use super::subscriber::{granted, in_dialog, refresh_at};
use crate::b2bua::dialog::Dialog;
use crate::b2bua::trunk::{trunk_of, trunk_target};
use crate::b2bua::Ctx;
use crate::transport::Target;

/// The bodies the subscription asks for.
const CC_BODY: &str = "application/call-completion";

/// How long a subscription is asked for (and refreshed for).
pub const AGENT_EXPIRES: Duration = Duration::from_secs(3_600);

/// How long an ended subscription waits for the monitor's final NOTIFY (after the CC call, or
/// after `Expires: 0`) before it is forgotten: 64·T1.
pub const FINAL_NOTIFY_WAIT: Duration = Duration::from_secs(32);

/// What a client transaction of an agent subscription carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Subscribe,
    Publish,
}

/// One request's subscription.
#[derive(Debug)]
struct Link {
    id: CompletionId,
    request: RemoteRequest,
    /// The SUBSCRIBE that started it, for the dialog its 2xx forms.
    subscribe: Message,
    /// The trunk's server.
    target: Target,
    dialog: Option<Dialog>,
    /// The entity tag of the last PUBLISH accepted (RFC 3903).
    etag: Option<String>,
}

/// The agent subscriptions, by Call-ID; their transactions in flight and their timers.
#[derive(Debug, Default)]
pub struct Agents {
    links: HashMap<String, Link>,
    by_id: HashMap<CompletionId, String>,
    clients: HashMap<TransactionKey, (String, Sent)>,
    timers: BTreeSet<(Instant, String)>,
}

impl Agents {
    /// None.
    pub fn new() -> Agents {
        Agents::default()
    }

    /// When [`Agents::on_timer`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// Whether request `id` has a subscription.
    pub fn has(&self, id: CompletionId) -> bool {
        self.by_id.contains_key(&id)
    }

    /// The agent state of request `id`, if it has a subscription.
    pub fn state_of(&self, id: CompletionId) -> Option<&AgentState> {
        let call_id = self.by_id.get(&id)?;
        self.links.get(call_id).map(|l| &l.request.state)
    }

    /// Whether `key` is one of the agents' transactions.
    pub fn owns(&self, key: &TransactionKey) -> bool {
        self.clients.contains_key(key)
    }

    /// Whether a NOTIFY with this Call-ID belongs to an agent subscription.
    pub fn is_agent(&self, call_id: &str) -> bool {
        self.links.contains_key(call_id)
    }

    /// Subscribes for request `id` of `line` at `remote`'s monitor (its `cc-URI` once one was
    /// named, as after a restart), over the trunk of the remote AOR's domain. No trunk (the
    /// configuration changed) or nothing sent: the request ends `monitor_refused`.
    pub fn subscribe(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CompletionId,
        line: &str,
        remote: &RemoteTarget,
    ) {
        if self.has(id) {
            return;
        }
        let config = cx.config;
        let trunk = Uri::parse(&remote.aor)
            .ok()
            .and_then(|aor| trunk_of(config, &aor));
        let offer = RemoteOffer {
            monitor: remote.cc_call_uri().to_owned(),
            m: remote.m.clone(),
        };
        let request = RemoteRequest::new(line, &remote.aor, offer);
        let call_id = cx.sip.call_id();
        let own = cx.aor(line);
        let built = trunk.zip(agent::subscribe(
            &request,
            &own,
            &cx.sip.tag(),
            &call_id,
            AGENT_EXPIRES.as_secs(),
        ));
        let Some((trunk, mut subscribe)) = built else {
            tracing::warn!(completion = id.get(), aor = %remote.aor, "no trunk to the remote monitor");
            cx.completion_fact(refused(id));
            return;
        };
        let target = trunk_target(trunk);
        subscribe.prepend(&cx.sip.via(target.proto));
        subscribe.push_raw(HeaderName::Contact, cx.sip.contact(target.proto));
        let sent = subscribe.clone();
        let Some(key) = cx.sip.request(subscribe, target, cx.now.instant) else {
            cx.completion_fact(refused(id));
            return;
        };
        tracing::info!(completion = id.get(), monitor = %request.offer.monitor, "subscribing at the remote monitor (RFC 6910 §6.2)");
        self.clients.insert(key, (call_id.clone(), Sent::Subscribe));
        self.by_id.insert(id, call_id.clone());
        self.links.insert(
            call_id,
            Link {
                id,
                request,
                subscribe: sent,
                target,
                dialog: None,
                etag: None,
            },
        );
    }

    /// A final response to one of the agents' requests.
    pub fn response(&mut self, cx: &mut Ctx<'_>, key: &TransactionKey, response: &Message) {
        let status = response.status().unwrap_or(0);
        if status < 200 {
            return;
        }
        let Some((call_id, sent)) = self.clients.remove(key) else {
            return;
        };
        match sent {
            Sent::Subscribe => self.subscribed(cx, &call_id, status, Some(response)),
            Sent::Publish => {
                let etag = response
                    .header::<SipETag>()
                    .and_then(Result::ok)
                    .map(|e| e.0);
                if let Some(link) = self.links.get_mut(&call_id) {
                    if (200..300).contains(&status) {
                        link.etag = etag;
                    } else {
                        tracing::info!(
                            completion = link.id.get(),
                            status,
                            "the remote monitor refused a PUBLISH"
                        );
                    }
                }
            }
        }
    }

    /// One of the agents' requests got no answer.
    pub fn timed_out(&mut self, cx: &mut Ctx<'_>, key: &TransactionKey) {
        if let Some((call_id, Sent::Subscribe)) = self.clients.remove(key) {
            self.subscribed(cx, &call_id, 408, None);
        }
    }

    /// The answer to a SUBSCRIBE (initial, refresh or unsubscribe).
    fn subscribed(
        &mut self,
        cx: &mut Ctx<'_>,
        call_id: &str,
        status: u16,
        response: Option<&Message>,
    ) {
        let Some(link) = self.links.get_mut(call_id) else {
            return;
        };
        let state = link.request.state.clone();
        if !(200..300).contains(&status) {
            // Refused at once, or a refresh refused (481: the monitor forgot it).
            let id = link.id;
            self.forget(call_id);
            let fact = match state {
                AgentState::Subscribing => Some(refused(id)),
                AgentState::Unsubscribing | AgentState::CcCall { .. } | AgentState::Ended(_) => {
                    None
                }
                _ => Some(CompletionFact::RemoteEnded {
                    id,
                    cause: CancelCause::MonitorTerminated,
                }),
            };
            tracing::info!(
                completion = id.get(),
                status,
                "the remote monitor's subscription is over"
            );
            if let Some(fact) = fact {
                cx.completion_fact(fact);
            }
            return;
        }
        if link.dialog.is_none() {
            if let Some(response) = response {
                link.dialog = Dialog::as_uac(&link.subscribe, response, link.target);
            }
        }
        let granted = response.map_or(AGENT_EXPIRES, |r| granted(r, AGENT_EXPIRES));
        match state {
            AgentState::Subscribing => {
                link.request.handle(Input::Subscribed(status));
                self.arm(call_id, refresh_at(cx.now.instant, granted));
            }
            // Cancelled before the monitor answered: unsubscribe now the dialog exists.
            AgentState::Unsubscribing if !granted.is_zero() => {
                self.resubscribe(cx, call_id, Duration::ZERO);
                self.arm(call_id, cx.now.instant + FINAL_NOTIFY_WAIT);
            }
            AgentState::Queued { .. }
            | AgentState::Recalling { .. }
            | AgentState::Suspended { .. } => {
                self.arm(call_id, refresh_at(cx.now.instant, granted));
            }
            AgentState::Unsubscribing | AgentState::CcCall { .. } | AgentState::Ended(_) => {}
        }
    }

    /// Sets the one timer of `call_id`.
    fn arm(&mut self, call_id: &str, at: Instant) {
        self.timers.retain(|(_, c)| c != call_id);
        self.timers.insert((at, call_id.to_owned()));
    }

    /// Refreshes the live subscriptions whose time is nearly up; forgets those that waited
    /// long enough for a final NOTIFY.
    pub fn on_timer(&mut self, cx: &mut Ctx<'_>) {
        while let Some((at, call_id)) = self.timers.first().cloned() {
            if at > cx.now.instant {
                break;
            }
            self.timers.remove(&(at, call_id.clone()));
            let waiting_final = self.links.get(&call_id).is_some_and(|l| {
                matches!(
                    l.request.state,
                    AgentState::Unsubscribing | AgentState::CcCall { .. } | AgentState::Ended(_)
                )
            });
            if waiting_final {
                self.forget(&call_id);
            } else {
                self.resubscribe(cx, &call_id, AGENT_EXPIRES);
            }
        }
    }

    /// A SUBSCRIBE in the subscription's dialog asking for `expires` (0: unsubscribe).
    fn resubscribe(&mut self, cx: &mut Ctx<'_>, call_id: &str, expires: Duration) {
        let Some(dialog) = self.links.get_mut(call_id).and_then(|l| l.dialog.as_mut()) else {
            return;
        };
        let subscribe = in_dialog(dialog, cx.sip, EVENT, CC_BODY, expires);
        let target = dialog.target;
        if let Some(key) = cx.sip.request(subscribe, target, cx.now.instant) {
            self.clients
                .insert(key, (call_id.to_owned(), Sent::Subscribe));
        }
    }

    /// A NOTIFY of an agent subscription from `source`: 200 (481 for none, 403 when it does
    /// not come from the subscription's trunk), then its state and body move the request.
    /// `cc_call_out` says whether a request's CC call is under way (its recall answered): the
    /// monitor ends the subscription when the CC call reaches it (§7.3), which may be before
    /// the CC call is answered here.
    pub fn notify(
        &mut self,
        cx: &mut Ctx<'_>,
        key: TransactionKey,
        request: &Message,
        source: Target,
        cc_call_out: impl Fn(CompletionId) -> bool,
    ) {
        let call_id = request
            .get_str(&HeaderName::CallId)
            .map(|c| c.into_owned())
            .unwrap_or_default();
        let (status, reason) = match self.links.get(&call_id) {
            None => (481, None),
            // By address only: over TCP the trunk's requests may come from any port.
            Some(l) if l.target.remote.ip() != source.remote.ip() => {
                (403, Some("Not From The Trunk"))
            }
            Some(_) => (200, None),
        };
        let response = builder::response(request, status, reason, "");
        cx.sip.respond(&key, response, cx.now.instant);
        if status != 200 {
            return;
        }
        let state = request
            .header::<SubscriptionState>()
            .and_then(Result::ok)
            .unwrap_or_else(|| SubscriptionState::active(0));
        let is_cc = request.get_str(&HeaderName::ContentType).is_some_and(|t| {
            t.to_ascii_lowercase()
                .contains("application/call-completion")
        });
        let body = is_cc
            .then(|| CallCompletion::parse(request.body()).ok())
            .flatten();
        let Some(link) = self.links.get_mut(&call_id) else {
            return;
        };
        if matches!(link.request.state, AgentState::Recalling { .. }) && cc_call_out(link.id) {
            link.request.handle(Input::RecallAnswered);
        }
        let actions = link.request.handle(Input::Notify {
            state: &state,
            body: body.as_ref(),
        });
        tracing::debug!(
            completion = link.id.get(),
            state = state.state.as_str(),
            ?actions,
            "remote monitor NOTIFY"
        );
        self.carry_out(cx, &call_id, actions);
        if state.state == SubState::Terminated {
            self.ended(cx, &call_id);
        }
    }

    /// The engine moved request `id` to `phase` (its `completion` event, `cause` with
    /// `cancelled`): the monitor is told what concerns it.
    pub fn phase(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CompletionId,
        phase: CompletionPhase,
        cause: Option<CancelCause>,
    ) {
        let Some(call_id) = self.by_id.get(&id).cloned() else {
            return;
        };
        let Some(link) = self.links.get_mut(&call_id) else {
            return;
        };
        let input = match (phase, &link.request.state) {
            (CompletionPhase::Suspended, _) => Input::RecallFailed,
            (CompletionPhase::Queued, AgentState::Suspended { .. }) => Input::OwnUserFree,
            (CompletionPhase::Queued, _) => Input::Requeued,
            // The CC call reached the remote callee: the monitor's final NOTIFY ends it.
            (CompletionPhase::Completed, _) => Input::RecallAnswered,
            (CompletionPhase::Cancelled, _) => match cause {
                // The monitor ended it: nothing to say back.
                Some(
                    CancelCause::MonitorRefused
                    | CancelCause::MonitorTerminated
                    | CancelCause::Expired,
                ) if link.request.is_ended() => return self.forget(&call_id),
                _ => Input::Cancel,
            },
            (CompletionPhase::Ready | CompletionPhase::Recalling, _) => return,
        };
        let actions = link.request.handle(input);
        self.carry_out(cx, &call_id, actions);
        let waiting_final = self.links.get(&call_id).is_some_and(|l| {
            matches!(
                l.request.state,
                AgentState::Unsubscribing | AgentState::CcCall { .. }
            )
        });
        if waiting_final
            && matches!(
                phase,
                CompletionPhase::Completed | CompletionPhase::Cancelled
            )
        {
            self.arm(&call_id, cx.now.instant + FINAL_NOTIFY_WAIT);
        }
    }

    /// Carries out the state machine's actions for `call_id`.
    fn carry_out(&mut self, cx: &mut Ctx<'_>, call_id: &str, actions: Vec<Action>) {
        for action in actions {
            let Some(link) = self.links.get(call_id) else {
                return;
            };
            let id = link.id;
            match action {
                Action::Recall => {
                    let cc_uri = match &link.request.state {
                        AgentState::Recalling { cc_uri } => Some(cc_uri.clone()),
                        _ => None,
                    };
                    cx.completion_fact(CompletionFact::RemoteReady { id, cc_uri });
                }
                Action::Publish { cc_uri, open } => self.publish(cx, call_id, &cc_uri, open),
                Action::Unsubscribe => self.resubscribe(cx, call_id, Duration::ZERO),
                // The B2BUA places the CC call when the recall is answered
                // (`b2bua::recall_remote`); the request's row carries the remote target and is
                // written on the engine's own changes.
                Action::PlaceCcCall { .. } | Action::Persist => {}
            }
        }
    }

    /// PUBLISH `Event: call-completion` with PIDF `basic` `open` or `closed` to `cc_uri`
    /// (RFC 6910 §6.5-§6.6), naming the last entity tag the monitor gave.
    fn publish(&mut self, cx: &mut Ctx<'_>, call_id: &str, cc_uri: &str, open: bool) {
        let Some(link) = self.links.get(call_id) else {
            return;
        };
        let Ok(uri) = Uri::parse(cc_uri) else {
            return;
        };
        let own = cx.aor(&link.request.line);
        let mut publish = Message::new_request(Method::Publish, uri);
        publish.push(&cx.sip.via(link.target.proto));
        publish.push(&MaxForwards(70));
        publish.push_raw(HeaderName::From, format!("<{own}>;tag={}", cx.sip.tag()));
        publish.push_raw(HeaderName::To, format!("<{cc_uri}>"));
        publish.push_raw(HeaderName::CallId, cx.sip.call_id());
        publish.push(&CSeq::new(1, Method::Publish));
        publish.push_raw(HeaderName::Event, EVENT);
        publish.push_raw(HeaderName::Expires, AGENT_EXPIRES.as_secs().to_string());
        if let Some(etag) = &link.etag {
            publish.push(&SipIfMatch(etag.clone()));
        }
        let basic = if open { Basic::Open } else { Basic::Closed };
        publish.push_raw(HeaderName::ContentType, "application/pidf+xml");
        publish.set_body(Pidf::with_basic(own, basic).to_bytes());
        let target = link.target;
        tracing::info!(
            completion = link.id.get(),
            open,
            "PUBLISH to the remote monitor (RFC 6910 §6.5)"
        );
        if let Some(key) = cx.sip.request(publish, target, cx.now.instant) {
            self.clients
                .insert(key, (call_id.to_owned(), Sent::Publish));
        }
    }

    /// The monitor ended the subscription: a request it ended before the CC call ends with
    /// the monitor's reason; one that completed or was cancelled is only forgotten.
    fn ended(&mut self, cx: &mut Ctx<'_>, call_id: &str) {
        let Some(link) = self.links.get(call_id) else {
            return;
        };
        let (id, state) = (link.id, link.request.state.clone());
        self.forget(call_id);
        let cause = match state {
            AgentState::Ended(AgentEnd::Terminated(reason)) => {
                tracing::info!(
                    completion = id.get(),
                    reason,
                    "the remote monitor ended the request"
                );
                if reason.eq_ignore_ascii_case("timeout") {
                    CancelCause::Expired
                } else {
                    CancelCause::MonitorTerminated
                }
            }
            AgentState::Ended(AgentEnd::Refused(_)) => CancelCause::MonitorRefused,
            _ => return,
        };
        cx.completion_fact(CompletionFact::RemoteEnded { id, cause });
    }

    /// Drops `call_id`'s subscription and everything it holds.
    fn forget(&mut self, call_id: &str) {
        if let Some(link) = self.links.remove(call_id) {
            self.by_id.remove(&link.id);
        }
        self.timers.retain(|(_, c)| c != call_id);
        self.clients.retain(|_, (c, _)| c != call_id);
    }
}

/// The fact ending request `id` because its monitor refused it.
fn refused(id: CompletionId) -> CompletionFact {
    CompletionFact::RemoteEnded {
        id,
        cause: CancelCause::MonitorRefused,
    }
}
