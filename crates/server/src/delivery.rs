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
                    cx.sip.tag()
                ),
            );
            message.push_raw(HeaderName::To, format!("<{}>", cx.aor(to)));
            message.push_raw(HeaderName::CallId, cx.sip.call_id());
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use callcomp_sip::parse::Limits;
    use callcomp_sip::transaction::TimerConfig;
    use callcomp_switch::{CompletionMode, Event, EventKind, Switch, Time};

    use super::*;
    use crate::config::Config;
    use crate::core::transactions::Transactions;
    use crate::core::Now;
    use crate::registrar::{Binding, Registrar};

    const CONFIG: &str = "domain = \"example.com\"\n[users.alice]\n[users.bob]\n";

    /// The world a delivery needs: bob with two phones, alice's message request 1 outstanding.
    struct World {
        config: Arc<Config>,
        sip: Transactions,
        switch: Switch,
        registrar: Registrar,
        events: Vec<Event>,
        now: Now,
        id: CompletionId,
    }

    impl World {
        fn new() -> World {
            let config = Arc::new(Config::from_toml_str(CONFIG, "t.toml").unwrap());
            let now = Now {
                instant: Instant::now(),
                wall: Time::from_millis(1_800_000_000_000),
            };
            let mut registrar = Registrar::from_config(&config);
            let phone = |port: u16| Binding {
                aor: "sip:bob@example.com".to_owned(),
                contact_uri: format!("sip:bob@192.0.2.2:{port}"),
                expires_at_ms: now.ms() + 3_600_000,
                q: None,
                call_id: format!("reg-{port}"),
                cseq: 1,
                source: None,
                user_agent: None,
                instance: None,
                updated_at_ms: now.ms(),
            };
            registrar.load(vec![phone(5062), phone(5063)], now.ms());
            let mut switch = crate::core::new_switch(&config);
            for name in ["alice", "bob"] {
                switch
                    .add_line(callcomp_switch::Line::new(
                        name,
                        format!("sip:{name}@example.com"),
                    ))
                    .unwrap();
            }
            switch
                .completion_fact(CompletionFact::Registered { line: "bob".into() }, now.wall)
                .unwrap();
            // A message request of alice for bob, made on a failed call.
            let call = callcomp_switch::CallRef(1);
            switch
                .handle(
                    callcomp_switch::Fact::Dialed {
                        call,
                        from: callcomp_switch::Party::Line("alice".into()),
                        to: "sip:bob@example.com".into(),
                    },
                    now.wall,
                )
                .unwrap();
            switch
                .handle(callcomp_switch::Fact::offered(call, "bob"), now.wall)
                .unwrap();
            switch
                .handle(
                    callcomp_switch::Fact::Failed {
                        call,
                        cause: callcomp_switch::Failure::Busy,
                        caller_leg: callcomp_switch::CallerLeg::Released,
                    },
                    now.wall,
                )
                .unwrap();
            let number = switch.line_calls("alice").unwrap()[0].id.get();
            let accepted = switch
                .complete_call(None, number, CompletionMode::Message.value(), 0, now.wall)
                .unwrap();
            // The engine asks for the MESSAGE; the test sends it itself.
            switch.poll_actions();
            World {
                sip: Transactions::new(TimerConfig::default(), "192.0.2.100:5060".parse().unwrap()),
                config,
                switch,
                registrar,
                events: Vec::new(),
                now,
                id: accepted.id,
            }
        }

        fn cx(&mut self) -> Ctx<'_> {
            Ctx {
                sip: &mut self.sip,
                switch: &mut self.switch,
                events: &mut self.events,
                registrar: &self.registrar,
                config: &self.config,
                media: None,
                now: self.now,
            }
        }

        /// The MESSAGEs sent, with their transaction keys.
        fn sent(&mut self, d: &Deliveries) -> Vec<(TransactionKey, Message)> {
            self.sip
                .drain()
                .into_iter()
                .map(|o| Message::parse_datagram(&o.bytes, &Limits::default()).unwrap())
                .map(|m| {
                    let key = TransactionKey::client_for_request(&m).unwrap();
                    assert!(d.owns(&key));
                    (key, m)
                })
                .collect()
        }

        fn ended(&self) -> Vec<String> {
            self.events
                .iter()
                .filter_map(|e| match &e.kind {
                    EventKind::Completion(c) => Some(format!("{:?}", c.state)),
                    _ => None,
                })
                .collect()
        }
    }

    fn answer(m: &Message, status: u16) -> Message {
        callcomp_sip::builder::response(m, status, None, "t1")
    }

    #[test]
    fn one_message_per_phone_and_the_first_2xx_delivers() {
        let mut w = World::new();
        let mut d = Deliveries::new();
        let id = w.id;
        d.send(&mut w.cx(), id, "bob", "alice", "Please call me back.");
        let sent = w.sent(&d);
        assert_eq!(sent.len(), 2, "one MESSAGE per contact");
        for (_, m) in &sent {
            assert_eq!(m.method(), Some(&Method::Message));
            assert_eq!(
                String::from_utf8_lossy(m.body()),
                "Please call me back.\r\n(left by alice via call completion)\r\n"
            );
            assert!(m
                .get_str(&HeaderName::From)
                .unwrap()
                .contains("sip:alice@example.com"));
        }
        d.response(&mut w.cx(), &sent[0].0, &answer(&sent[0].1, 200));
        assert_eq!(w.ended(), ["Completed"]);
        // The second phone's 2xx changes nothing more.
        d.response(&mut w.cx(), &sent[1].0, &answer(&sent[1].1, 200));
        assert_eq!(w.ended(), ["Completed"]);
        assert!(!d.owns(&sent[0].0) && !d.owns(&sent[1].0));
    }

    #[test]
    fn delivery_fails_only_when_every_phone_refused_or_timed_out() {
        let mut w = World::new();
        let mut d = Deliveries::new();
        let id = w.id;
        d.send(&mut w.cx(), id, "bob", "alice", "Please call me back.");
        let sent = w.sent(&d);
        d.response(&mut w.cx(), &sent[0].0, &answer(&sent[0].1, 180));
        d.response(&mut w.cx(), &sent[0].0, &answer(&sent[0].1, 486));
        assert!(w.ended().is_empty(), "one phone is left");
        d.timed_out(&mut w.cx(), &sent[1].0);
        assert_eq!(
            w.ended(),
            ["Queued"],
            "failed: back to waiting for a registration"
        );
    }

    #[test]
    fn no_phone_fails_at_once() {
        let mut w = World::new();
        let mut d = Deliveries::new();
        let id = w.id;
        d.send(&mut w.cx(), id, "alice", "bob", "Hi");
        assert!(w.sip.drain().is_empty());
        assert_eq!(w.ended(), ["Queued"]);
    }
}
