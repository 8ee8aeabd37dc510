//! Every inbound message, from the wire checks to the role that handles it.
//!
//! Requests: [`check_request`] first (400 with the reason, 416 for a foreign URI scheme,
//! answered statelessly), then the transaction layer (retransmissions stop there), then the
//! identity gate for out-of-dialog requests that speak for a user ([`identity::admit`]: 407,
//! 403), then by method: REGISTER to the registrar, INVITE to the B2BUA (483 when Max-Forwards is 0,
//! 503 with Retry-After when `sip.max_calls` calls are in progress) unless it is a CC call or a
//! feature code ([`super::monitor`], [`super::feature_codes`]), SUBSCRIBE and PUBLISH to the
//! RFC 6910 monitor, CANCEL to the INVITE it cancels, OPTIONS answered with Allow,
//! Allow-Events and Accept, a request with a To tag into its dialog (a subscription's or a
//! call's), BYE/UPDATE/INFO/PRACK outside a dialog 481, the methods
//! callcomp knows but does not serve 405 with Allow, unknown methods 501. Responses go
//! through the layer to the job whose transaction it is (a NOTIFY, a watch's SUBSCRIBE, a
//! MESSAGE, else the B2BUA); ACKs for 2xx to their dialog.
//!
//! Loops (RFC 3261 §16.3 item 4, done the B2BUA way): an out-of-dialog request that carries a
//! Via of ours or a Call-ID we made is one of our own requests come back, and gets 482.

use callcomp_sip::builder;
use callcomp_sip::check::{check_request, check_response, Essentials};
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::numbers::RetryAfter;
use callcomp_sip::message::Message;
use callcomp_sip::method::Method;
use callcomp_sip::transaction::TransactionKey;

use super::monitor::CcCall;
use super::trace::Direction;
use super::transactions::TuEvent;
use super::{ids, with_cx, Engine, Now, StoreJob};
use crate::api::metrics as m;
use crate::identity::{self, gate, Identity};
use crate::registrar::{Decision, RegisterRequest};
use crate::transport::{Inbound, Peer, Target};

/// The methods callcomp accepts, for the Allow of OPTIONS answers and of the messages that
/// form or refresh a dialog: besides the call methods, MESSAGE and SUBSCRIBE inside a call
/// (relayed to the other leg), SUBSCRIBE and PUBLISH of RFC 6910, and NOTIFY (for
/// callcomp's own RFC 4235 subscriptions).
pub const ALLOWED: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, PRACK, UPDATE, INFO, \
     MESSAGE, SUBSCRIBE, NOTIFY, PUBLISH";

/// The methods callcomp accepts outside a dialog, for the Allow of a 405 (RFC 3261 §21.4.6:
/// the methods valid for the address the request was sent to).
pub const ALLOWED_OUT_OF_DIALOG: &str =
    "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, PRACK, UPDATE, INFO, SUBSCRIBE, PUBLISH";

pub use crate::subscription::ALLOW_EVENTS;

impl Engine {
    /// Handles one event of the transport.
    pub fn transport_event(&mut self, event: Inbound, now: Now) {
        match event {
            Inbound::Message { message, peer, .. } => self.inbound(message, peer, now),
            // Requests to a closed connection's peer are sent to its address again.
            Inbound::Closed(_) => {}
        }
        self.pump(now);
    }

    /// Handles a message from `peer`.
    pub fn inbound(&mut self, message: Message, peer: Peer, now: Now) {
        let from = Target::reply_to(&peer);
        self.sip
            .trace()
            .message(Direction::In, &message, peer.proto, peer.remote);
        let mut essentials = None;
        if message.is_request() {
            match check_request(&message) {
                Ok(ess) => essentials = Some(ess),
                Err(e) => {
                    ::metrics::counter!(m::PARSE_ERRORS, m::LABEL_TRANSPORT => peer.proto.as_str().to_ascii_lowercase()).increment(1);
                    if message.method() != Some(&Method::Ack) {
                        tracing::debug!(error = %e, remote = %peer.remote, "request refused");
                        let response = builder::response(
                            &message,
                            e.status(),
                            Some(&e.to_string()),
                            &self.sip.tag(),
                        );
                        self.sip.send(&response, from);
                    }
                    return;
                }
            }
        } else if check_response(&message).is_err() {
            ::metrics::counter!(m::PARSE_ERRORS, m::LABEL_TRANSPORT => peer.proto.as_str().to_ascii_lowercase()).increment(1);
            return;
        }
        match self.sip.receive(message, from, now.instant) {
            Ok(events) => self.dispatch(events, Some(from), essentials, now),
            Err(e) => tracing::debug!(error = %e, "message without a transaction key dropped"),
        }
    }

    /// Hands the transaction layer's events to the roles. `essentials` are those of the
    /// request just received, checked before it entered the layer (parsed once: a new
    /// request's handling reuses them).
    pub(super) fn dispatch(
        &mut self,
        events: Vec<TuEvent>,
        from: Option<Target>,
        mut essentials: Option<Essentials>,
        now: Now,
    ) {
        for event in events {
            match event {
                TuEvent::NewRequest {
                    key,
                    request,
                    cancels,
                } => self.new_request(key, request, essentials.take(), cancels, from, now),
                TuEvent::Response { key, response } => self.response(key, response, now),
                TuEvent::TimedOut(key) => self.timed_out(key, now),
                TuEvent::StrayResponse(response) => {
                    self.with_ctx(now, |b2bua, cx| b2bua.stray_response(cx, &response));
                }
                TuEvent::Ack(ack) => {
                    let Some(from) = from else { continue };
                    self.with_ctx(now, |b2bua, cx| b2bua.ack(cx, &ack, from));
                }
            }
        }
    }

    /// A response to one of our client transactions, to the job that sent the request.
    fn response(&mut self, key: TransactionKey, response: Message, now: Now) {
        if self.subs.monitor.owns(&key) {
            let gone = self.subs.monitor.notify_answered(&key, response.status());
            if let Some((line, id)) = gone {
                self.cancel_for_subscription(&line, id, now);
            }
        } else if self.subs.watches.owns(&key) {
            with_cx!(self, now, |cx| self
                .subs
                .watches
                .response(&mut cx, &key, &response));
        } else if self.subs.agents.owns(&key) {
            with_cx!(self, now, |cx| self
                .subs
                .agents
                .response(&mut cx, &key, &response));
        } else if self.delivery.owns(&key) {
            with_cx!(self, now, |cx| self
                .delivery
                .response(&mut cx, &key, &response));
        } else {
            self.with_ctx(now, |b2bua, cx| b2bua.response(cx, &key, response));
        }
    }

    /// A client transaction of ours ended without a final response.
    fn timed_out(&mut self, key: TransactionKey, now: Now) {
        if self.subs.monitor.owns(&key) {
            if let Some((line, id)) = self.subs.monitor.notify_answered(&key, None) {
                self.cancel_for_subscription(&line, id, now);
            }
        } else if self.subs.watches.owns(&key) {
            self.subs.watches.timed_out(&key);
        } else if self.subs.agents.owns(&key) {
            with_cx!(self, now, |cx| self.subs.agents.timed_out(&mut cx, &key));
        } else if self.delivery.owns(&key) {
            with_cx!(self, now, |cx| self.delivery.timed_out(&mut cx, &key));
        } else {
            self.with_ctx(now, |b2bua, cx| b2bua.timed_out(cx, &key));
        }
    }

    fn new_request(
        &mut self,
        key: TransactionKey,
        request: Message,
        essentials: Option<Essentials>,
        cancels: Option<TransactionKey>,
        from: Option<Target>,
        now: Now,
    ) {
        // The request passed the checks before it entered the layer.
        let Some(ess) = essentials.or_else(|| check_request(&request).ok()) else {
            return;
        };
        let Some(method) = request.method().cloned() else {
            return;
        };
        let in_dialog = ess.to.tag().is_some();
        if !in_dialog && !matches!(method, Method::Ack | Method::Cancel) {
            if let Some(why) = self.looped(&request, &ess) {
                ::metrics::counter!(m::LOOPS_DETECTED).increment(1);
                tracing::warn!(call_id = %ess.call_id.0, %method, why, "loop detected");
                self.reply(&key, &request, 482, Some(why), now);
                return;
            }
        }
        let mut identity = Identity::External;
        if !in_dialog && gate::is_gated(&method, &request) {
            let Some(source) = from else { return };
            let directory = gate::Directory {
                users: &self.registrar.policy().users,
                open: self.registrar.policy().open,
            };
            match identity::admit(&mut self.auth, &request, &ess, source, directory, now.ms()) {
                Ok(who) => identity = self.trunk_identity(who, &ess.from.uri, source),
                Err(refusal) => {
                    let response = refusal.response(&request, &self.sip.tag());
                    self.sip.respond(&key, response, now.instant);
                    return;
                }
            }
        }
        match method {
            Method::Extension(_) => self.reply(&key, &request, 501, None, now),
            Method::Cancel => {
                let Some(from) = from else { return };
                self.with_ctx(now, |b2bua, cx| {
                    b2bua.cancel(cx, key, request, cancels, from)
                });
            }
            Method::Register => self.register(key, &request, &ess, from, now),
            Method::Options if !in_dialog => {
                let mut response = builder::response(&request, 200, None, &self.sip.tag());
                response.push_raw(HeaderName::Allow, ALLOWED);
                if !ALLOW_EVENTS.is_empty() {
                    response.push_raw(HeaderName::AllowEvents, ALLOW_EVENTS.join(", "));
                }
                response.push_raw(HeaderName::Accept, "application/sdp");
                self.sip.respond(&key, response, now.instant);
            }
            Method::Notify if self.subs.watches.is_watch(&ess.call_id.0) => {
                let Some(from) = from else { return };
                with_cx!(self, now, |cx| self
                    .subs
                    .watches
                    .notify(&mut cx, key, &request, from));
            }
            Method::Notify if self.subs.agents.is_agent(&ess.call_id.0) => {
                let Some(from) = from else { return };
                let b2bua = &self.b2bua;
                with_cx!(self, now, |cx| self.subs.agents.notify(
                    &mut cx,
                    key,
                    &request,
                    from,
                    |id| b2bua.recall_answered(id)
                ));
            }
            Method::Subscribe if in_dialog => {
                let sub = ess
                    .to
                    .tag()
                    .and_then(|tag| self.subs.monitor.by_dialog(&ess.call_id.0, tag));
                let Some(from) = from else { return };
                match sub {
                    Some(id) => self.resubscribe(key, request, id, (from, ess.cseq.seq), now),
                    None => self.with_ctx(now, |b2bua, cx| {
                        b2bua.in_dialog(cx, key, request, &ess, from)
                    }),
                }
            }
            _ if in_dialog => {
                let Some(from) = from else { return };
                self.with_ctx(now, |b2bua, cx| {
                    b2bua.in_dialog(cx, key, request, &ess, from)
                })
            }
            Method::Invite if ess.max_forwards == Some(0) => {
                self.reply(&key, &request, 483, None, now)
            }
            Method::Invite if self.at_capacity() => {
                let mut response =
                    builder::response(&request, 503, Some("Service Unavailable"), &self.sip.tag());
                response.push(&RetryAfter::new(
                    crate::transport::OVERLOAD_RETRY_AFTER_SECS,
                ));
                self.sip.respond(&key, response, now.instant);
            }
            Method::Invite => {
                let Some(from) = from else { return };
                let mut request = request;
                let cc = match self.cc_call(&mut request, &identity, from, now) {
                    Err((status, reason)) => {
                        self.reply(&key, &request, status, Some(reason), now);
                        return;
                    }
                    Ok(CcCall::Started(id)) => Some(id),
                    Ok(CcCall::Readdressed) => None,
                    Ok(CcCall::NotOne) => {
                        let code = super::feature_codes::recognise(
                            &self.config.completion.feature_codes,
                            &request,
                        );
                        if let Some(code) = code {
                            self.feature_code(key, request, (&identity, from), code, now);
                            return;
                        }
                        None
                    }
                };
                self.with_ctx(now, |b2bua, cx| {
                    b2bua.invite(cx, key, request, &ess, from, identity, cc)
                });
            }
            Method::Subscribe => {
                let Some(from) = from else { return };
                self.subscribe(key, request, &identity, from, now);
            }
            Method::Publish => {
                let Some(from) = from else { return };
                self.publish(key, request, &identity, from, now);
            }
            Method::Bye | Method::Update | Method::Info | Method::Prack => {
                self.reply(&key, &request, 481, None, now)
            }
            Method::Notify | Method::Message | Method::Refer | Method::Options | Method::Ack => {
                let mut response = builder::response(&request, 405, None, &self.sip.tag());
                response.push_raw(HeaderName::Allow, ALLOWED_OUT_OF_DIALOG);
                self.sip.respond(&key, response, now.instant);
            }
        }
    }

    /// Whether `sip.max_calls` calls are in progress: new calls are refused (`503`).
    fn at_capacity(&self) -> bool {
        let max = usize::try_from(self.config.sip.max_calls).unwrap_or(usize::MAX);
        self.b2bua.call_count() >= max
    }

    /// Why an out-of-dialog request is one of ours come back, if it is.
    /// Another callcomp (a trunk) makes Call-IDs of the same shape, with its own process
    /// token: only ours is a loop.
    fn looped(
        &self,
        request: &Message,
        ess: &callcomp_sip::check::Essentials,
    ) -> Option<&'static str> {
        if ids::is_own_call_id(&ess.call_id.0) {
            return Some("Loop Detected: a Call-ID of this server");
        }
        let own = &self.registrar.policy().own;
        let vias = request
            .header_all::<callcomp_sip::headers::via::Via>()
            .unwrap_or_default();
        let ours = vias.iter().any(|via| {
            let secure = matches!(
                via.transport,
                callcomp_sip::headers::via::Transport::Tls
                    | callcomp_sip::headers::via::Transport::Wss
            );
            own.is_own_host(&via.host, via.port, secure)
        });
        ours.then_some("Loop Detected: a Via of this server")
    }

    pub(super) fn reply(
        &mut self,
        key: &TransactionKey,
        request: &Message,
        status: u16,
        reason: Option<&str>,
        now: Now,
    ) {
        let response = builder::response(request, status, reason, &self.sip.tag());
        self.sip.respond(key, response, now.instant);
    }

    /// REGISTER: decide; a changed binding set is stored before it is used and before the 200
    /// goes out.
    fn register(
        &mut self,
        key: TransactionKey,
        request: &Message,
        ess: &callcomp_sip::check::Essentials,
        from: Option<Target>,
        now: Now,
    ) {
        let Some(source) = from else { return };
        let req = RegisterRequest {
            message: request,
            essentials: ess,
            source,
            now_ms: now.ms(),
        };
        let decision = self.registrar.decide(req, &mut self.auth);
        let response = self
            .registrar
            .response(&decision, request, &self.sip.tag(), now.ms());
        let Decision::Accept {
            user,
            aor,
            bindings,
            changed,
        } = decision
        else {
            let result = if matches!(decision, Decision::Challenge { .. }) {
                "challenged"
            } else {
                "rejected"
            };
            ::metrics::counter!(m::REGISTRATIONS, m::LABEL_RESULT => result).increment(1);
            self.sip.respond(&key, response, now.instant);
            return;
        };
        let result = if bindings.is_empty() {
            "removed"
        } else {
            "accepted"
        };
        ::metrics::counter!(m::REGISTRATIONS, m::LABEL_RESULT => result).increment(1);
        if !changed {
            self.sip.respond(&key, response, now.instant);
            return;
        }
        // Nothing changes until the new set is stored (see `Engine::store_done`); meanwhile
        // the next REGISTER of this user is decided against it.
        self.next_job += 1;
        let id = self.next_job;
        self.registrar.stage(&user, id, bindings.clone());
        self.jobs
            .push(StoreJob::ReplaceBindings { id, aor, bindings });
        self.waiting.insert(
            id,
            super::PendingRegister {
                key,
                response,
                user,
            },
        );
    }
}
