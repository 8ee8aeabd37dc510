//! The core driven through a fake transport: SIP messages written as text go in as
//! [`Inbound`] events, what the core sends comes out as [`Outbound`]s that are parsed and
//! checked, and time is injected ([`Now`]), so every timer fires exactly when a test says.
//!
//! Phones: alice at 192.0.2.1:5061, bob at 192.0.2.2:5062 (and a second bob phone at
//! 192.0.2.3:5063), carol (`call_waiting = false`) at 192.0.2.4:5064; the server advertises
//! 192.0.2.100:5060.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::call_info::CallInfo;
use callcomp_sip::message::Message;
use callcomp_sip::parse::Limits;
use callcomp_switch::{Event, EventKind, Time};

use super::*;
use crate::transport::{Inbound, Peer, Proto};

mod agent;
mod completion;
mod feature_tones;
mod identity;
mod intrude;
mod monitor;
mod monitor_trunk;
mod operator;
mod overload;
mod recall_join;
mod reinvite;
mod third_party;

/// The seed of the core's identifiers in every test: each run sends the same bytes.
const SEED: u64 = 9;

const SERVER: &str = "192.0.2.100:5060";
const ALICE: &str = "192.0.2.1:5061";
const BOB: &str = "192.0.2.2:5062";
const BOB2: &str = "192.0.2.3:5063";
const CAROL: &str = "192.0.2.4:5064";
const DAVE: &str = "192.0.2.5:5065";

const SDP_A: &str = "v=0\r\no=alice 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
const SDP_B: &str = "v=0\r\no=bob 7 7 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";

const CONFIG: &str = r#"
domain = "example.com"
[sip]
no_answer_timeout = "30s"
[completion]
offer_window = "20s"
[users.alice]
[users.bob]
[users.dave]
[users.carol]
call_waiting = false
"#;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn parse(text: &str) -> Message {
    Message::parse_datagram(text.as_bytes(), &Limits::default()).unwrap()
}

/// The core with the fake transport around it.
struct Harness {
    engine: Engine,
    now: Now,
    sent: Vec<(SocketAddr, Message)>,
    events: Vec<Event>,
    /// Store jobs are committed at once unless this is set.
    hold_store: bool,
    held: Vec<u64>,
    /// Completion writes and other jobs that need no answer, in order.
    other_jobs: Vec<StoreJob>,
    branch: u32,
    /// The media plane the recalls answer with (real sockets on loopback).
    _media: crate::media::MediaThread,
}

impl Harness {
    fn new() -> Harness {
        Harness::with_config(CONFIG)
    }

    /// The core over the configuration `text`, its identifiers from a generator seeded with
    /// [`SEED`] and its time injected.
    fn with_config(text: &str) -> Harness {
        ids::seed(SEED);
        let config = Arc::new(Config::from_toml_str(text, "test.toml").unwrap());
        let switch = Arc::new(Mutex::new(new_switch(&config)));
        let now = Now {
            instant: Instant::now(),
            wall: Time::from_millis(1_800_000_000_000),
        };
        let sounds = crate::media::Sounds::builtin(config.media.tone_set());
        let (media, media_thread) = crate::media::spawn(&config.media, sounds, None).unwrap();
        let engine =
            Engine::new(config, switch, addr(SERVER), [9; 32], Vec::new(), now).with_media(media);
        Harness {
            engine,
            now,
            sent: Vec::new(),
            events: Vec::new(),
            hold_store: false,
            held: Vec::new(),
            other_jobs: Vec::new(),
            branch: 0,
            _media: media_thread,
        }
    }

    /// Delivers `text` from the phone at `from`, then collects what the core did.
    fn recv(&mut self, from: &str, text: &str) {
        let peer = Peer {
            proto: Proto::Udp,
            remote: addr(from),
            local: addr(SERVER),
            conn: None,
        };
        let event = Inbound::Message {
            message: parse(text),
            peer,
            at: self.now.instant,
        };
        self.engine.transport_event(event, self.now);
        self.collect();
    }

    fn collect(&mut self) {
        loop {
            for out in self.engine.drain_outbound() {
                let message = Message::parse_datagram(&out.bytes, &Limits::default()).unwrap();
                self.sent.push((out.target.remote, message));
            }
            self.events.extend(self.engine.drain_events());
            let jobs = self.engine.drain_jobs();
            if jobs.is_empty() {
                break;
            }
            for job in jobs {
                let id = match &job {
                    StoreJob::ReplaceBindings { id, .. }
                    | StoreJob::SaveCompletion { id, .. }
                    | StoreJob::DeleteCompletion { id, .. } => *id,
                    StoreJob::PurgeExpired { .. } => {
                        self.other_jobs.push(job);
                        continue;
                    }
                };
                if !matches!(job, StoreJob::ReplaceBindings { .. }) {
                    self.other_jobs.push(job);
                }
                if self.hold_store {
                    self.held.push(id);
                } else {
                    self.engine.store_done(id, Ok(()), self.now);
                }
            }
        }
    }

    /// Moves time forward by `d`, firing every timer on the way.
    fn advance(&mut self, d: Duration) {
        let end = self.now.instant + d;
        while let Some(at) = self.engine.poll_timeout(self.now) {
            if at > end {
                break;
            }
            let step = at.saturating_duration_since(self.now.instant);
            self.now = self.now.after(step);
            self.engine.on_timer(self.now);
            self.collect();
        }
        let rest = end.saturating_duration_since(self.now.instant);
        self.now = self.now.after(rest);
        self.engine.on_timer(self.now);
        self.collect();
    }

    /// Everything sent to `to` since the last call, in order.
    fn take(&mut self, to: &str) -> Vec<Message> {
        let to = addr(to);
        let (mine, rest) = self.sent.drain(..).partition(|(a, _)| *a == to);
        self.sent = rest;
        mine.into_iter().map(|(_, m)| m).collect()
    }

    /// The one message sent to `to` that is not a 100 Trying.
    fn one(&mut self, to: &str) -> Message {
        let got: Vec<Message> = self
            .take(to)
            .into_iter()
            .filter(|m| m.status() != Some(100))
            .collect();
        assert_eq!(
            got.len(),
            1,
            "expected one message to {to}, got {:#?}",
            got.iter().map(label).collect::<Vec<_>>()
        );
        got.into_iter().next().unwrap()
    }

    /// `line:state[/mode]` for every callstate event since the last call.
    fn states(&mut self) -> Vec<String> {
        self.events
            .drain(..)
            .filter_map(|e| match e.kind {
                EventKind::CallState(c) => Some(match c.mode {
                    Some(m) => format!("{}:{}/{m}", c.line, c.state),
                    None => format!("{}:{}", c.line, c.state),
                }),
                _ => None,
            })
            .collect()
    }

    fn next_branch(&mut self) -> String {
        self.branch += 1;
        format!("z9hG4bKtest{}", self.branch)
    }

    /// Registers `user`'s phone at `at`; returns the 200.
    fn register(&mut self, user: &str, at: &str) -> Message {
        let branch = self.next_branch();
        let text = format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {at};branch={branch}\r\nMax-Forwards: 70\r\n\
             To: <sip:{user}@example.com>\r\nFrom: <sip:{user}@example.com>;tag=r{user}\r\nCall-ID: reg-{user}-{at}\r\n\
             CSeq: {} REGISTER\r\nContact: <sip:{user}@{at}>\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n",
            self.branch
        );
        self.recv(at, &text);
        // Other requests to the phone (a waiting MESSAGE) stay for the test to look at.
        let (ok, rest): (Vec<Message>, Vec<Message>) = self
            .take(at)
            .into_iter()
            .partition(|m| m.status().is_some());
        let at = addr(at);
        self.sent.extend(rest.into_iter().map(|m| (at, m)));
        assert_eq!(ok.len(), 1, "one answer to the REGISTER");
        ok.into_iter().next().unwrap()
    }

    /// alice's INVITE to `to` (a user name) with SDP_A.
    fn invite_from_alice(&mut self, to: &str, call_id: &str) -> String {
        let branch = self.next_branch();
        let text = invite_text(to, call_id, &branch, 70);
        self.recv(ALICE, &text);
        text
    }
}

fn invite_text(to: &str, call_id: &str, branch: &str, max_forwards: u8) -> String {
    format!(
        "INVITE sip:{to}@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch={branch}\r\nMax-Forwards: {max_forwards}\r\n\
         To: <sip:{to}@example.com>\r\nFrom: \"Alice\" <sip:alice@example.com>;tag=a1\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:alice@{ALICE}>\r\nContent-Type: application/sdp\r\nX-Custom: kept\r\n\
         Content-Length: {}\r\n\r\n{SDP_A}",
        SDP_A.len()
    )
}

fn label(m: &Message) -> String {
    match (m.method(), m.status()) {
        (Some(method), _) => method.to_string(),
        (None, Some(code)) => code.to_string(),
        _ => "?".into(),
    }
}

fn header(m: &Message, name: HeaderName) -> String {
    m.get_str(&name).map(|v| v.into_owned()).unwrap_or_default()
}

/// A phone's response to `request`: the transaction headers copied, `tag` added to To,
/// the phone's Contact, and `body` as SDP.
fn reply(request: &Message, code: u16, tag: &str, contact: &str, body: Option<&str>) -> String {
    let mut text = format!("SIP/2.0 {code} Phone Says\r\n");
    for v in request.get_all_raw(&HeaderName::Via) {
        text.push_str(&format!("Via: {}\r\n", String::from_utf8_lossy(v)));
    }
    let to = header(request, HeaderName::To);
    let to = if to.contains("tag=") || code == 100 {
        to
    } else {
        format!("{to};tag={tag}")
    };
    text.push_str(&format!(
        "From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\nContact: <sip:phone@{contact}>\r\n",
        header(request, HeaderName::From),
        header(request, HeaderName::CallId),
        header(request, HeaderName::CSeq)
    ));
    match body {
        Some(sdp) => text.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )),
        None => text.push_str("Content-Length: 0\r\n\r\n"),
    }
    text
}

/// A request the callee's phone sends in the dialog of `invite` (which it received), with
/// its tag `tag` and CSeq `seq`.
fn from_callee(
    method: &str,
    invite: &Message,
    tag: &str,
    seq: u32,
    at: &str,
    body: Option<&str>,
) -> String {
    let target = header(invite, HeaderName::Contact);
    let target = target.trim_start_matches('<').trim_end_matches('>');
    let mut text = format!(
        "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {at};branch=z9hG4bKb{method}{seq}\r\nMax-Forwards: 70\r\n\
         From: {};tag={tag}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {seq} {method}\r\nContact: <sip:phone@{at}>\r\n",
        header(invite, HeaderName::To),
        header(invite, HeaderName::From),
        header(invite, HeaderName::CallId),
    );
    match body {
        Some(sdp) => text.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )),
        None => text.push_str("Content-Length: 0\r\n\r\n"),
    }
    text
}

/// A request alice sends in the dialog the 2xx `ok` established for her INVITE.
fn from_caller(method: &str, ok: &Message, seq: u32, branch: &str, body: Option<&str>) -> String {
    let target = header(ok, HeaderName::Contact);
    let target = target.trim_start_matches('<').trim_end_matches('>');
    let mut text = format!(
        "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch={branch}\r\nMax-Forwards: 70\r\n\
         From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {seq} {method}\r\nContact: <sip:alice@{ALICE}>\r\n",
        header(ok, HeaderName::From),
        header(ok, HeaderName::To),
        header(ok, HeaderName::CallId),
    );
    match body {
        Some(sdp) => text.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        )),
        None => text.push_str("Content-Length: 0\r\n\r\n"),
    }
    text
}

fn offer_m(m: &Message) -> Option<String> {
    let infos = m.header_all::<CallInfo>().ok()?;
    let info = infos.into_iter().find(CallInfo::is_call_completion)?;
    assert_eq!(info.uri.to_string(), "sip:cc@example.com");
    info.m().map(str::to_owned)
}

/// Registers alice and bob, alice calls bob, bob rings; returns (the INVITE bob got).
fn ringing(h: &mut Harness) -> Message {
    h.register("alice", ALICE);
    h.register("bob", BOB);
    h.states();
    h.invite_from_alice("bob", "call-1");
    let to_bob = h.one(BOB);
    h.recv(BOB, &reply(&to_bob, 180, "b1", BOB, None));
    let ringing = h.one(ALICE);
    assert_eq!(ringing.status(), Some(180));
    to_bob
}

/// Continues [`ringing`]: bob answers with SDP_B, alice gets the 200 and ACKs it; returns
/// (INVITE at bob, 200 at alice).
fn connected(h: &mut Harness) -> (Message, Message) {
    let to_bob = ringing(h);
    h.recv(BOB, &reply(&to_bob, 200, "b1", BOB, Some(SDP_B)));
    let ok = h.one(ALICE);
    assert_eq!(ok.status(), Some(200));
    h.recv(ALICE, &from_caller("ACK", &ok, 1, "z9hG4bKack1", None));
    let ack = h.one(BOB);
    assert_eq!(ack.method(), Some(&callcomp_sip::Method::Ack));
    (to_bob, ok)
}

#[test]
fn register_answers_only_after_the_store_committed() {
    let mut h = Harness::new();
    h.hold_store = true;
    h.recv(
        ALICE,
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5061;branch=z9hG4bKr1\r\nMax-Forwards: 70\r\n\
         To: <sip:alice@example.com>\r\nFrom: <sip:alice@example.com>;tag=x\r\nCall-ID: r1\r\nCSeq: 1 REGISTER\r\n\
         Contact: <sip:alice@192.0.2.1:5061>\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(h.take(ALICE).is_empty(), "no response before the commit");
    assert_eq!(h.held.len(), 1);
    let id = h.held[0];
    assert!(
        !h.engine.registrar().is_registered("alice", h.now.ms()),
        "the binding is not used before it is stored"
    );
    h.engine.store_done(id, Ok(()), h.now);
    h.collect();
    let ok = h.one(ALICE);
    assert_eq!(ok.status(), Some(200));
    assert_eq!(
        header(&ok, HeaderName::Contact),
        "<sip:alice@192.0.2.1:5061>;expires=3600"
    );
    assert!(h.engine.registrar().is_registered("alice", h.now.ms()));
}

#[test]
fn a_failed_commit_answers_500_and_changes_nothing() {
    let mut h = Harness::new();
    h.hold_store = true;
    h.register_pending();
    let id = h.held[0];
    h.engine.store_done(id, Err(StoreFault::Failed), h.now);
    h.collect();
    let failed = h.one(ALICE);
    assert_eq!(failed.status(), Some(500));
    assert!(failed.get_raw(&HeaderName::Contact).is_none());
    assert!(!h.engine.registrar().is_registered("alice", h.now.ms()));
    assert!(h.events.is_empty(), "no registration reached the engine");
}

/// An unavailable store: 503 with Retry-After, the binding not live, and a REGISTER after
/// it is decided against the committed (empty) set, not the refused one.
#[test]
fn an_unavailable_store_answers_503_retry_after() {
    let mut h = Harness::new();
    h.hold_store = true;
    h.register_pending();
    let id = h.held.remove(0);
    h.engine.store_done(id, Err(StoreFault::Unavailable), h.now);
    h.collect();
    let refused = h.one(ALICE);
    assert_eq!(refused.status(), Some(503));
    assert_eq!(
        header(&refused, HeaderName::RetryAfter),
        STORE_RETRY_AFTER_SECS.to_string()
    );
    assert!(!h.engine.registrar().is_registered("alice", h.now.ms()));
}

/// Two REGISTERs of one user with the first not yet committed: the second is decided against
/// the first's set (so it keeps the first contact), and each set is used once stored.
#[test]
fn a_register_is_decided_against_the_one_still_being_stored() {
    let mut h = Harness::new();
    h.hold_store = true;
    h.register_pending();
    let branch = h.next_branch();
    h.recv(
        ALICE,
        &format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch={branch}\r\nMax-Forwards: 70\r\n\
             To: <sip:alice@example.com>\r\nFrom: <sip:alice@example.com>;tag=y\r\nCall-ID: r2\r\nCSeq: 1 REGISTER\r\n\
             Contact: <sip:alice2@{ALICE}>\r\nContent-Length: 0\r\n\r\n"
        ),
    );
    assert_eq!(h.held.len(), 2);
    let (first, second) = (h.held[0], h.held[1]);
    h.engine.store_done(first, Ok(()), h.now);
    h.collect();
    assert_eq!(h.engine.registrar().contacts("alice", h.now.ms()).len(), 1);
    h.engine.store_done(second, Ok(()), h.now);
    h.collect();
    let oks = h.take(ALICE);
    assert_eq!(oks.len(), 2);
    assert!(oks.iter().all(|m| m.status() == Some(200)));
    assert_eq!(h.engine.registrar().contacts("alice", h.now.ms()).len(), 2);
}

impl Harness {
    fn register_pending(&mut self) {
        let branch = self.next_branch();
        let text = format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch={branch}\r\nMax-Forwards: 70\r\n\
             To: <sip:alice@example.com>\r\nFrom: <sip:alice@example.com>;tag=x\r\nCall-ID: r1\r\nCSeq: 1 REGISTER\r\n\
             Contact: <sip:alice@{ALICE}>\r\nContent-Length: 0\r\n\r\n"
        );
        self.recv(ALICE, &text);
    }
}

/// The basic call: two dialogs, SDP byte-identical both ways, the caller hangs up.
#[test]
fn basic_call_passes_sdp_untouched_and_caller_hangs_up() {
    let mut h = Harness::new();
    h.register("alice", ALICE);
    h.register("bob", BOB);
    h.invite_from_alice("bob", "call-1");
    let to_bob = h.one(BOB);
    // A new dialog: another Call-ID, our own From tag, CSeq 1, the body as it came.
    assert_eq!(to_bob.method(), Some(&callcomp_sip::Method::Invite));
    assert_eq!(to_bob.uri().unwrap().to_string(), format!("sip:bob@{BOB}"));
    assert_ne!(header(&to_bob, HeaderName::CallId), "call-1");
    assert!(!header(&to_bob, HeaderName::From).contains("tag=a1"));
    assert!(header(&to_bob, HeaderName::From).starts_with("\"Alice\" <sip:alice@example.com>"));
    assert_eq!(header(&to_bob, HeaderName::CSeq), "1 INVITE");
    assert_eq!(header(&to_bob, HeaderName::MaxForwards), "69");
    assert_eq!(header(&to_bob, HeaderName::ContentType), "application/sdp");
    assert_eq!(
        header(&to_bob, HeaderName::Extension("X-Custom".into())),
        "kept"
    );
    assert_eq!(to_bob.body(), SDP_A.as_bytes());
    assert!(header(&to_bob, HeaderName::Contact).contains("192.0.2.100:5060"));
    assert_eq!(
        h.states(),
        ["alice:dialing", "alice:proceeding", "bob:offering"]
    );

    // 100 from bob is not relayed; 180 is, with the completion offer (RFC 6910 §7.1).
    h.recv(BOB, &reply(&to_bob, 100, "", BOB, None));
    assert!(h.take(ALICE).iter().all(|m| m.status() == Some(100)));
    h.recv(BOB, &reply(&to_bob, 180, "b1", BOB, None));
    let ringing = h.one(ALICE);
    assert_eq!(ringing.status(), Some(180));
    assert_eq!(offer_m(&ringing).as_deref(), Some("NR"));
    assert_eq!(h.states(), ["alice:ringback"]);

    h.recv(BOB, &reply(&to_bob, 200, "b1", BOB, Some(SDP_B)));
    let ok = h.one(ALICE);
    assert_eq!(ok.status(), Some(200));
    assert_eq!(ok.body(), SDP_B.as_bytes());
    assert_eq!(header(&ok, HeaderName::CallId), "call-1");
    assert!(header(&ok, HeaderName::To).contains(";tag="));
    assert!(!header(&ok, HeaderName::To).contains("tag=b1"));
    assert_eq!(h.states(), ["alice:connected", "bob:connected"]);
    // Bob's ACK waits for alice's.
    assert!(h.take(BOB).is_empty());
    h.recv(ALICE, &from_caller("ACK", &ok, 1, "z9hG4bKack1", None));
    let ack = h.one(BOB);
    assert_eq!(ack.method(), Some(&callcomp_sip::Method::Ack));
    assert_eq!(header(&ack, HeaderName::CSeq), "1 ACK");
    assert!(header(&ack, HeaderName::To).contains("tag=b1"));

    // Alice hangs up: BYE to bob in bob's dialog, bob's 200 back to alice.
    h.recv(ALICE, &from_caller("BYE", &ok, 2, "z9hG4bKbye1", None));
    let bye = h.one(BOB);
    assert_eq!(bye.method(), Some(&callcomp_sip::Method::Bye));
    assert_eq!(
        header(&bye, HeaderName::CallId),
        header(&to_bob, HeaderName::CallId)
    );
    assert_eq!(header(&bye, HeaderName::CSeq), "2 BYE");
    assert_eq!(
        h.states(),
        ["alice:idle", "bob:disconnected/normal", "bob:idle"]
    );
    h.recv(BOB, &reply(&bye, 200, "", BOB, None));
    let done = h.one(ALICE);
    assert_eq!(
        (done.status(), header(&done, HeaderName::CSeq).as_str()),
        (Some(200), "2 BYE")
    );
    assert_eq!(h.engine.b2bua().call_count(), 0);
}

/// Everything the core sent in a call from alice to bob that bob answers and alice ends,
/// as bytes, with the time injected and the identifiers seeded.
fn seeded_call_bytes() -> Vec<String> {
    let mut h = Harness::new();
    let (_, ok) = connected(&mut h);
    h.recv(ALICE, &from_caller("BYE", &ok, 2, "z9hG4bKbye1", None));
    let bye = h.one(BOB);
    let mut sent = vec![ok.to_string(), bye.to_string()];
    h.recv(BOB, &reply(&bye, 200, "", BOB, None));
    sent.extend(h.sent.drain(..).map(|(to, m)| format!("{to} {m}")));
    sent
}

#[test]
fn with_a_seeded_generator_and_injected_time_the_core_sends_the_same_bytes_each_run() {
    let first = seeded_call_bytes();
    assert_eq!(seeded_call_bytes(), first);
    // The identifiers do come from the generator: another seed, other tags and Call-IDs.
    let mut h = Harness::new();
    ids::seed(SEED + 1);
    let (to_bob, _) = connected(&mut h);
    assert!(!first[1].contains(&header(&to_bob, HeaderName::CallId)));
}

#[test]
fn callee_hangs_up() {
    let mut h = Harness::new();
    let (to_bob, _ok) = connected(&mut h);
    h.states();
    h.recv(BOB, &from_callee("BYE", &to_bob, "b1", 1, BOB, None));
    let bye = h.one(ALICE);
    assert_eq!(bye.method(), Some(&callcomp_sip::Method::Bye));
    assert_eq!(header(&bye, HeaderName::CallId), "call-1");
    assert!(header(&bye, HeaderName::From).contains(";tag="));
    assert!(header(&bye, HeaderName::To).contains("tag=a1"));
    assert_eq!(bye.uri().unwrap().to_string(), format!("sip:alice@{ALICE}"));
    assert_eq!(
        h.states(),
        ["bob:idle", "alice:disconnected/normal", "alice:idle"]
    );
    h.recv(ALICE, &reply(&bye, 200, "", ALICE, None));
    assert_eq!(h.one(BOB).status(), Some(200));
    assert_eq!(h.engine.b2bua().call_count(), 0);
}

#[test]
fn busy_gives_486_with_offer_bs_and_busy_until_the_offer_window_ends() {
    let mut h = Harness::new();
    let to_bob = ringing(&mut h);
    h.states();
    h.recv(BOB, &reply(&to_bob, 486, "b1", BOB, None));
    // The phone's 486 is acknowledged by its transaction.
    let ack = h.one(BOB);
    assert_eq!(ack.method(), Some(&callcomp_sip::Method::Ack));
    let busy = h.one(ALICE);
    assert_eq!(busy.status(), Some(486));
    assert_eq!(offer_m(&busy).as_deref(), Some("BS"));
    assert_eq!(
        h.states(),
        ["alice:busy/station", "bob:disconnected/busy", "bob:idle"]
    );
    h.advance(Duration::from_secs(19));
    assert_eq!(h.states(), Vec::<String>::new());
    h.advance(Duration::from_secs(1));
    assert_eq!(h.states(), ["alice:idle"]);
}

#[test]
fn no_answer_timer_cancels_the_callee_and_answers_480_nr() {
    let mut h = Harness::new();
    let to_bob = ringing(&mut h);
    h.states();
    h.advance(Duration::from_secs(29));
    assert!(h.take(ALICE).is_empty());
    assert!(h
        .take(BOB)
        .iter()
        .all(|m| m.method() != Some(&callcomp_sip::Method::Cancel)));
    h.advance(Duration::from_secs(1));
    let cancel = h.one(BOB);
    assert_eq!(cancel.method(), Some(&callcomp_sip::Method::Cancel));
    assert_eq!(
        header(&cancel, HeaderName::CallId),
        header(&to_bob, HeaderName::CallId)
    );
    let failed = h.one(ALICE);
    assert_eq!(failed.status(), Some(480));
    assert_eq!(offer_m(&failed).as_deref(), Some("NR"));
    // Alice's call stays in ringback (no new state) for its offer window.
    assert_eq!(h.states(), ["bob:disconnected/noanswer", "bob:idle"]);
    // Bob's phone answers the CANCEL and ends the INVITE with 487; nothing more for alice.
    h.recv(BOB, &reply(&cancel, 200, "b1", BOB, None));
    h.recv(BOB, &reply(&to_bob, 487, "b1", BOB, None));
    assert!(h.take(ALICE).is_empty());
    assert_eq!(h.one(BOB).method(), Some(&callcomp_sip::Method::Ack));
    h.advance(Duration::from_secs(20));
    assert_eq!(h.states(), ["alice:idle"]);
    // (Alice never acknowledged the 480, so its transaction retransmitted it.)
    assert!(h.take(ALICE).iter().all(|m| m.status() == Some(480)));
    assert_eq!(h.engine.b2bua().call_count(), 0);
}

#[test]
fn unregistered_callee_gives_480_nl_and_unknown_callee_404() {
    let mut h = Harness::new();
    h.register("alice", ALICE);
    h.states();
    h.invite_from_alice("bob", "call-nl");
    let failed = h.one(ALICE);
    assert_eq!(failed.status(), Some(480));
    assert_eq!(offer_m(&failed).as_deref(), Some("NL"));
    assert_eq!(h.states(), ["alice:dialing", "alice:busy/unavail"]);

    h.invite_from_alice("nobody", "call-404");
    let missing = h.one(ALICE);
    assert_eq!(missing.status(), Some(404));
    assert_eq!(offer_m(&missing), None);
}

#[test]
fn caller_cancel_gives_487_and_cancels_the_callee() {
    let mut h = Harness::new();
    let to_bob = ringing(&mut h);
    h.states();
    let invite = invite_text("bob", "call-1", "z9hG4bKtest3", 70);
    let cancel = invite
        .replacen("INVITE sip:bob", "CANCEL sip:bob", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    let cancel =
        cancel.split("Content-Type").next().unwrap().to_owned() + "Content-Length: 0\r\n\r\n";
    h.recv(ALICE, &cancel);
    let to_alice = h.take(ALICE);
    let codes: Vec<(Option<u16>, String)> = to_alice
        .iter()
        .map(|m| (m.status(), header(m, HeaderName::CSeq)))
        .collect();
    assert_eq!(
        codes,
        [
            (Some(200), "1 CANCEL".to_owned()),
            (Some(487), "1 INVITE".to_owned())
        ]
    );
    let cancel_b = h.one(BOB);
    assert_eq!(cancel_b.method(), Some(&callcomp_sip::Method::Cancel));
    assert_eq!(
        header(&cancel_b, HeaderName::Via),
        header(&to_bob, HeaderName::Via)
    );
    assert_eq!(
        h.states(),
        ["alice:idle", "bob:disconnected/cancelled", "bob:idle"]
    );
}

#[test]
fn forking_first_answer_wins_the_other_is_cancelled_and_a_late_answer_hung_up() {
    let mut h = Harness::new();
    h.register("alice", ALICE);
    h.register("bob", BOB);
    h.register("bob", BOB2);
    h.invite_from_alice("bob", "call-f");
    let one = h.one(BOB);
    let two = h.one(BOB2);
    assert_eq!(
        header(&one, HeaderName::CallId),
        header(&two, HeaderName::CallId)
    );
    assert_ne!(header(&one, HeaderName::Via), header(&two, HeaderName::Via));
    h.recv(BOB, &reply(&one, 180, "f1", BOB, None));
    h.recv(BOB2, &reply(&two, 180, "f2", BOB2, None));
    let provisionals: Vec<Option<u16>> = h.take(ALICE).iter().map(Message::status).collect();
    assert_eq!(provisionals, [Some(180), Some(180)]);

    h.recv(BOB2, &reply(&two, 200, "f2", BOB2, Some(SDP_B)));
    assert_eq!(h.one(ALICE).status(), Some(200));
    let cancel = h.one(BOB);
    assert_eq!(cancel.method(), Some(&callcomp_sip::Method::Cancel));
    assert!(h.take(BOB2).is_empty());

    // The cancelled phone answered anyway: it gets ACK and BYE.
    h.recv(BOB, &reply(&one, 200, "f1", BOB, Some(SDP_B)));
    let late: Vec<String> = h.take(BOB).iter().map(label).collect();
    assert_eq!(late, ["ACK", "BYE"]);
    assert!(h.take(ALICE).is_empty());
}

#[test]
fn reinvite_passes_across_with_its_sdp() {
    let mut h = Harness::new();
    let (to_bob, ok) = connected(&mut h);
    let sdp2 = SDP_A.replace("4000", "4002");
    h.recv(
        ALICE,
        &from_caller("INVITE", &ok, 2, "z9hG4bKre1", Some(&sdp2)),
    );
    let re = h.one(BOB);
    assert_eq!(re.method(), Some(&callcomp_sip::Method::Invite));
    assert_eq!(re.body(), sdp2.as_bytes());
    assert_eq!(header(&re, HeaderName::CSeq), "2 INVITE");
    assert!(header(&re, HeaderName::To).contains("tag=b1"));
    let sdp3 = SDP_B.replace("5000", "5002");
    h.recv(BOB, &reply(&re, 200, "b1", BOB, Some(&sdp3)));
    let ok2 = h.one(ALICE);
    assert_eq!(ok2.status(), Some(200));
    assert_eq!(header(&ok2, HeaderName::CSeq), "2 INVITE");
    assert_eq!(ok2.body(), sdp3.as_bytes());
    h.recv(ALICE, &from_caller("ACK", &ok, 2, "z9hG4bKreack", None));
    let ack = h.one(BOB);
    assert_eq!(label(&ack), "ACK");
    assert_eq!(header(&ack, HeaderName::CSeq), "2 ACK");

    // A re-INVITE from bob's side goes to alice the same way.
    h.recv(
        BOB,
        &from_callee("INVITE", &to_bob, "b1", 1, BOB, Some(SDP_B)),
    );
    let re = h.one(ALICE);
    assert_eq!(label(&re), "INVITE");
    assert_eq!(header(&re, HeaderName::CallId), "call-1");
    assert_eq!(re.body(), SDP_B.as_bytes());
    // INFO and UPDATE pass too.
    h.recv(ALICE, &from_caller("INFO", &ok, 3, "z9hG4bKinfo", None));
    assert_eq!(label(&h.one(BOB)), "INFO");
}

#[test]
fn busy_on_busy_for_a_user_without_call_waiting() {
    let mut h = Harness::new();
    h.register("alice", ALICE);
    h.register("carol", CAROL);
    h.register("dave", DAVE);
    h.invite_from_alice("carol", "call-c1");
    let to_carol = h.one(CAROL);
    h.recv(CAROL, &reply(&to_carol, 180, "c1", CAROL, None));
    h.take(ALICE);
    h.states();
    // Dave calls carol while alice's call is in progress: callcomp answers 486 itself.
    let text = invite_text("carol", "call-c2", "z9hG4bKdave", 70)
        .replace(
            &format!("Via: SIP/2.0/UDP {ALICE}"),
            &format!("Via: SIP/2.0/UDP {DAVE}"),
        )
        .replace(
            "\"Alice\" <sip:alice@example.com>;tag=a1",
            "<sip:dave@example.com>;tag=d1",
        );
    h.recv(DAVE, &text);
    let busy = h.one(DAVE);
    assert_eq!(busy.status(), Some(486));
    assert_eq!(offer_m(&busy).as_deref(), Some("BS"));
    assert!(h.take(CAROL).is_empty());
    assert_eq!(h.states(), ["dave:dialing", "dave:busy/station"]);
}

#[test]
fn methods_outside_calls() {
    let mut h = Harness::new();
    let request = |method: &str, extra: &str| {
        format!(
            "{method} sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bK{method}\r\n{extra}\
             To: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=a\r\nCall-ID: m-{method}\r\n\
             CSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let rows: &[(&str, &str, u16)] = &[
        ("FOO", "Max-Forwards: 70\r\n", 501),
        // RFC 6910: with no failed call to bob there is nothing to subscribe to (403), and
        // no request to suspend (a PUBLISH naming no published state: 412).
        (
            "SUBSCRIBE",
            "Max-Forwards: 70\r\nEvent: call-completion\r\n",
            403,
        ),
        ("PUBLISH", "Max-Forwards: 70\r\nEvent: presence\r\n", 412),
        ("NOTIFY", "Max-Forwards: 70\r\nEvent: dialog\r\n", 405),
        ("MESSAGE", "Max-Forwards: 70\r\n", 405),
        ("INVITE", "Max-Forwards: 0\r\n", 483),
        ("OPTIONS", "Max-Forwards: 70\r\n", 200),
        ("BYE", "Max-Forwards: 70\r\n", 481),
    ];
    for (method, extra, want) in rows {
        h.recv(ALICE, &request(method, extra));
        let response = h.one(ALICE);
        assert_eq!(response.status(), Some(*want), "{method}");
        if matches!(want, 405 | 200) {
            assert!(
                header(&response, HeaderName::Allow).contains("INVITE"),
                "{method}"
            );
        }
    }
    // A request missing Call-ID gets a 400 saying so.
    h.recv(
        ALICE,
        &format!(
            "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKx\r\nMax-Forwards: 70\r\n\
             To: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=a\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        ),
    );
    let bad = h.one(ALICE);
    assert_eq!(bad.status(), Some(400));
    assert_eq!(bad.reason_phrase().unwrap(), "Missing Call-ID header");
}

#[test]
fn the_callers_2xx_is_retransmitted_until_acknowledged() {
    let mut h = Harness::new();
    let to_bob = ringing(&mut h);
    h.recv(BOB, &reply(&to_bob, 200, "b1", BOB, Some(SDP_B)));
    let ok = h.one(ALICE);
    h.advance(Duration::from_millis(500));
    assert_eq!(h.one(ALICE).status(), Some(200));
    h.advance(Duration::from_millis(1000));
    assert_eq!(h.one(ALICE).status(), Some(200));
    h.recv(ALICE, &from_caller("ACK", &ok, 1, "z9hG4bKack9", None));
    h.take(BOB);
    h.advance(Duration::from_secs(10));
    assert!(h.take(ALICE).iter().all(|m| m.status() != Some(200)));
}
