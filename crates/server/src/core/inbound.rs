//! Every inbound message, from the wire checks to the role that handles it.
//!
//! Requests: [`check_request`] first (400 with the reason, 416 for a foreign URI scheme,
//! answered statelessly), then the transaction layer (retransmissions stop there), then by
//! method: REGISTER to the registrar, INVITE to the B2BUA (483 when Max-Forwards is 0),
//! CANCEL to the INVITE it cancels, OPTIONS answered with Allow and Supported, a request
//! with a To tag into its dialog, BYE/UPDATE/INFO/PRACK outside a dialog 481, the methods
//! callcomp knows but does not serve 405 with Allow, unknown methods 501. Responses go
//! through the layer to the B2BUA; ACKs for 2xx to their dialog.

use callcomp_sip::builder;
use callcomp_sip::check::{check_request, check_response};
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::message::Message;
use callcomp_sip::method::Method;
use callcomp_sip::transaction::TransactionKey;

use super::transactions::TuEvent;
use super::{ids, Engine, Now, StoreJob};
use crate::api::metrics as m;
use crate::registrar::{Decision, RegisterRequest};
use crate::transport::{Inbound, Peer, Target};

/// The methods callcomp serves, for Allow.
pub const ALLOWED: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, PRACK, UPDATE, INFO";

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
        if message.is_request() {
            if let Err(e) = check_request(&message) {
                ::metrics::counter!(m::PARSE_ERRORS, m::LABEL_TRANSPORT => peer.proto.as_str().to_ascii_lowercase()).increment(1);
                if message.method() != Some(&Method::Ack) {
                    tracing::debug!(error = %e, remote = %peer.remote, "request refused");
                    let response =
                        builder::response(&message, e.status(), Some(&e.to_string()), &ids::tag());
                    self.sip.send(&response, from);
                }
                return;
            }
        } else if check_response(&message).is_err() {
            ::metrics::counter!(m::PARSE_ERRORS, m::LABEL_TRANSPORT => peer.proto.as_str().to_ascii_lowercase()).increment(1);
            return;
        }
        match self.sip.receive(message, from, now.instant) {
            Ok(events) => self.dispatch(events, Some(from), now),
            Err(e) => tracing::debug!(error = %e, "message without a transaction key dropped"),
        }
    }

    /// Hands the transaction layer's events to the roles.
    pub(super) fn dispatch(&mut self, events: Vec<TuEvent>, from: Option<Target>, now: Now) {
        for event in events {
            match event {
                TuEvent::NewRequest {
                    key,
                    request,
                    cancels,
                } => self.new_request(key, request, cancels, from, now),
                TuEvent::Response { key, response } => {
                    self.with_ctx(now, |b2bua, cx| b2bua.response(cx, &key, response));
                }
                TuEvent::TimedOut(key) => self.with_ctx(now, |b2bua, cx| b2bua.timed_out(cx, &key)),
                TuEvent::StrayResponse(response) => {
                    self.with_ctx(now, |b2bua, cx| b2bua.stray_response(cx, &response));
                }
                TuEvent::Ack(ack) => self.with_ctx(now, |b2bua, cx| b2bua.ack(cx, &ack)),
            }
        }
    }

    fn new_request(
        &mut self,
        key: TransactionKey,
        request: Message,
        cancels: Option<TransactionKey>,
        from: Option<Target>,
        now: Now,
    ) {
        // The request passed the checks before it entered the layer.
        let Ok(ess) = check_request(&request) else {
            return;
        };
        let Some(method) = request.method().cloned() else {
            return;
        };
        let in_dialog = ess.to.tag().is_some();
        match method {
            Method::Extension(_) => self.reply(&key, &request, 501, None, now),
            Method::Cancel => {
                self.with_ctx(now, |b2bua, cx| b2bua.cancel(cx, key, request, cancels))
            }
            Method::Register => self.register(key, &request, &ess, from, now),
            Method::Options if !in_dialog => {
                let mut response = builder::response(&request, 200, None, &ids::tag());
                response.push_raw(HeaderName::Allow, ALLOWED);
                response.push_raw(HeaderName::Accept, "application/sdp");
                response.push_raw(HeaderName::Supported, "");
                self.sip.respond(&key, response, now.instant);
            }
            Method::Notify if self.b2bua.is_watch(&ess.call_id.0) => {
                self.with_ctx(now, |b2bua, cx| b2bua.watch_notify(cx, key, &request));
            }
            _ if in_dialog => {
                self.with_ctx(now, |b2bua, cx| b2bua.in_dialog(cx, key, request, &ess))
            }
            Method::Invite if ess.max_forwards == Some(0) => {
                self.reply(&key, &request, 483, None, now)
            }
            Method::Invite => {
                let Some(from) = from else { return };
                self.with_ctx(now, |b2bua, cx| b2bua.invite(cx, key, request, &ess, from));
            }
            Method::Bye | Method::Update | Method::Info | Method::Prack => {
                self.reply(&key, &request, 481, None, now)
            }
            Method::Subscribe
            | Method::Notify
            | Method::Publish
            | Method::Message
            | Method::Refer
            | Method::Options
            | Method::Ack => {
                let mut response = builder::response(&request, 405, None, &ids::tag());
                response.push_raw(HeaderName::Allow, ALLOWED);
                self.sip.respond(&key, response, now.instant);
            }
        }
    }

    fn reply(
        &mut self,
        key: &TransactionKey,
        request: &Message,
        status: u16,
        reason: Option<&str>,
        now: Now,
    ) {
        let response = builder::response(request, status, reason, &ids::tag());
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
        let decision = self.registrar.decide(req);
        let response = self
            .registrar
            .response(&decision, request, &ids::tag(), now.ms());
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
