//! Delivery of mode `message` (DESIGN §2.2): a SIP MESSAGE (text/plain) from the caller's
//! display name to every registered contact of the callee; the first 2xx delivers it, and
//! when every contact refused or timed out, delivery failed (the engine tries again at the
//! callee's next registration).
//!
//! Its own job with its own transactions: nothing here is filed under a call of the B2BUA.

use std::collections::HashMap;

use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::cseq::CSeq;
use callcomp_sip::headers::numbers::MaxForwards;
use callcomp_sip::message::Message;
use callcomp_sip::method::Method;
use callcomp_sip::transaction::TransactionKey;
use callcomp_switch::{CompletionFact, CompletionId};

use crate::b2bua::dialog::name_addr;
use crate::b2bua::Ctx;
use crate::core::ids;

/// The MESSAGEs in flight.
#[derive(Debug, Default)]
pub struct Deliveries {
    /// Per request: how many MESSAGEs have no final response yet.
    pending: HashMap<CompletionId, usize>,
    /// MESSAGE client transactions → their request.
    clients: HashMap<TransactionKey, CompletionId>,
}

impl Deliveries {
    /// Nothing in flight.
    pub fn new() -> Deliveries {
        Deliveries::default()
    }

    /// Action `SendMessage`: a MESSAGE with `text` from `from` to every contact of `to`.
    pub fn send(&mut self, cx: &mut Ctx<'_>, id: CompletionId, to: &str, from: &str, text: &str) {
        let destinations = cx.destinations(to);
        let from_name = cx.line_settings(from).display;
        let body = format!("{text}\r\n(left by {from_name} via call completion)\r\n");
        let mut sent = 0;
        for d in &destinations {
            let mut message = Message::new_request(Method::Message, d.uri.clone());
            message.push(&cx.sip.via(d.target.proto));
            message.push(&MaxForwards(70));
            message.push_raw(
                HeaderName::From,
                format!(
                    "{};tag={}",
                    name_addr(&from_name, &cx.aor(from)),
                    ids::tag()
                ),
            );
            message.push_raw(HeaderName::To, format!("<{}>", cx.aor(to)));
            message.push_raw(
                HeaderName::CallId,
                ids::call_id(&cx.sip.advertise().ip().to_string()),
            );
            message.push(&CSeq::new(1, Method::Message));
            message.push_raw(
                HeaderName::ContentType,
                "text/plain;charset=UTF-8".to_owned(),
            );
            message.set_body(body.clone().into_bytes());
            if let Some(key) = cx.sip.request(message, d.target, cx.now.instant) {
                self.clients.insert(key, id);
                sent += 1;
            }
        }
        if sent == 0 {
            cx.completion_fact(CompletionFact::MessageFailed { id });
        } else {
            self.pending.insert(id, sent);
        }
    }

    /// Whether `key` is one of our MESSAGE transactions.
    pub fn owns(&self, key: &TransactionKey) -> bool {
        self.clients.contains_key(key)
    }

    /// A response to a MESSAGE: the first 2xx delivers it; a refusal counts as one failure.
    pub fn response(&mut self, cx: &mut Ctx<'_>, key: &TransactionKey, r: &Message) {
        let status = r.status().unwrap_or(0);
        if status < 200 {
            return;
        }
        let Some(id) = self.clients.remove(key) else {
            return;
        };
        if status < 300 {
            if self.pending.remove(&id).is_some() {
                cx.completion_fact(CompletionFact::MessageDelivered { id });
            }
        } else {
            self.failed(cx, id);
        }
    }

    /// A MESSAGE got no answer.
    pub fn timed_out(&mut self, cx: &mut Ctx<'_>, key: &TransactionKey) {
        if let Some(id) = self.clients.remove(key) {
            self.failed(cx, id);
        }
    }

    /// One MESSAGE of request `id` failed; when none is left, delivery failed.
    fn failed(&mut self, cx: &mut Ctx<'_>, id: CompletionId) {
        let Some(left) = self.pending.get_mut(&id) else {
            return;
        };
        *left = left.saturating_sub(1);
        if *left == 0 {
            self.pending.remove(&id);
            cx.completion_fact(CompletionFact::MessageFailed { id });
        }
    }
}
