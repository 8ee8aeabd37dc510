//! Any sequence of transaction-layer events: requests and responses arriving (fresh,
//! retransmitted, for unknown transactions), requests sent, responses given by the TU,
//! transport errors and time passing. The layer must never panic, never send anything for a
//! transaction after that transaction said `Terminated`, and never ask to be woken in the
//! past.
#![no_main]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use callcomp_sip::message::Message;
use callcomp_sip::parse::Limits;
use callcomp_sip::transaction::layer::{LayerOutput, TransactionLayer};
use callcomp_sip::transaction::timers::TimerConfig;
use callcomp_sip::transaction::{key::TransactionKey, Output};
use libfuzzer_sys::fuzz_target;

const METHODS: [&str; 5] = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"];
const CODES: [u16; 7] = [100, 180, 183, 200, 404, 486, 603];

#[derive(Debug, Arbitrary)]
enum Op {
    /// A request from the network: method, branch, To tag, reliable transport.
    Incoming { method: u8, branch: u8, to_tag: bool, reliable: bool },
    /// A response from the network for a branch and method.
    Response { code: u8, branch: u8, method: u8 },
    /// The TU sends a request.
    Send { method: u8, branch: u8, reliable: bool },
    /// The TU answers the n-th server transaction it knows.
    Answer { which: u8, code: u8 },
    /// The transport failed for the n-th transaction.
    TransportError { which: u8 },
    /// Time passes, then due timers fire.
    Wait { millis: u16 },
}

fn request(method: &str, branch: u8, to_tag: bool, cseq_method: &str) -> Option<Message> {
    let tag = if to_tag { ";tag=callee" } else { "" };
    let text = format!(
        "{method} sip:bob@example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKfz{branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=caller\r\n\
         To: <sip:bob@example.com>{tag}\r\n\
         Call-ID: fuzz@192.0.2.1\r\n\
         CSeq: 1 {cseq_method}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    Message::parse_datagram(text.as_bytes(), &Limits::default()).ok()
}

fn response(code: u16, branch: u8, method: &str) -> Option<Message> {
    let text = format!(
        "SIP/2.0 {code} Whatever\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKfz{branch}\r\n\
         From: <sip:alice@example.com>;tag=caller\r\n\
         To: <sip:bob@example.com>;tag=callee\r\n\
         Call-ID: fuzz@192.0.2.1\r\n\
         CSeq: 1 {method}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    Message::parse_datagram(text.as_bytes(), &Limits::default()).ok()
}

/// Checks the outputs of one call and keeps track of live and terminated transactions.
#[derive(Default)]
struct Watch {
    live: Vec<TransactionKey>,
    terminated: HashSet<TransactionKey>,
    /// Requests of server transactions, for the TU to answer.
    incoming: Vec<(TransactionKey, Message)>,
}

impl Watch {
    fn started(&mut self, key: &TransactionKey) {
        self.terminated.remove(key);
        if !self.live.contains(key) {
            self.live.push(key.clone());
        }
    }

    fn see(&mut self, outputs: &[LayerOutput], now: Instant) {
        for out in outputs {
            match out {
                LayerOutput::NewRequest { key, request, .. } => {
                    self.started(key);
                    self.incoming.push((key.clone(), request.clone()));
                }
                LayerOutput::Transaction { key, output, .. } => match output {
                    Output::Terminated => {
                        self.terminated.insert(key.clone());
                        self.live.retain(|k| k != key);
                        self.incoming.retain(|(k, _)| k != key);
                    }
                    Output::Send(_) | Output::ToTransactionUser(_) => {
                        assert!(
                            !self.terminated.contains(key),
                            "output after Terminated for {key}"
                        );
                    }
                    Output::SetTimer(_, at) => assert!(*at >= now, "timer set in the past"),
                    Output::TimedOut | Output::TransportError => {}
                },
                LayerOutput::StrayResponse(_) | LayerOutput::StrayAck(_) => {}
            }
        }
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let start = Instant::now();
    let mut now = start;
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let mut watch = Watch::default();
    for op in ops.into_iter().take(64) {
        match op {
            Op::Incoming { method, branch, to_tag, reliable } => {
                let m = METHODS[usize::from(method) % METHODS.len()];
                // ACK and CANCEL reuse the INVITE's branch space so they can match it.
                if let Some(req) = request(m, branch % 8, to_tag, m) {
                    if let Ok(outputs) = layer.receive(req, reliable, now) {
                        watch.see(&outputs, now);
                    }
                }
            }
            Op::Response { code, branch, method } => {
                let code = CODES[usize::from(code) % CODES.len()];
                let m = METHODS[usize::from(method) % METHODS.len()];
                if let Some(resp) = response(code, branch % 8, m) {
                    if let Ok(outputs) = layer.receive(resp, false, now) {
                        watch.see(&outputs, now);
                    }
                }
            }
            Op::Send { method, branch, reliable } => {
                let m = METHODS[usize::from(method) % METHODS.len()];
                if let Some(req) = request(m, branch % 8, false, m) {
                    if let Ok((key, outputs)) = layer.send_request(req, reliable, now) {
                        watch.started(&key);
                        watch.see(&outputs, now);
                    }
                }
            }
            Op::Answer { which, code } => {
                if watch.incoming.is_empty() {
                    continue;
                }
                let (key, req) = &watch.incoming[usize::from(which) % watch.incoming.len()];
                let code = CODES[usize::from(code) % CODES.len()];
                let resp = callcomp_sip::builder::response(req, code, None, "callee");
                let key = key.clone();
                // A response the state no longer allows is refused with an error: fine.
                if let Ok(outputs) = layer.send_response(&key, resp, now) {
                    watch.see(&outputs, now);
                }
            }
            Op::TransportError { which } => {
                if watch.live.is_empty() {
                    continue;
                }
                let key = watch.live[usize::from(which) % watch.live.len()].clone();
                let outputs = layer.transport_error(&key);
                watch.see(&outputs, now);
            }
            Op::Wait { millis } => {
                now += Duration::from_millis(u64::from(millis) * 4);
                let outputs = layer.on_timer(now);
                watch.see(&outputs, now);
            }
        }
        if let Some(at) = layer.poll_timeout() {
            // Early wake-ups are allowed (stale heap entries); a due timer must fire now.
            if at <= now {
                let outputs = layer.on_timer(now);
                watch.see(&outputs, now);
            }
        }
    }
});
