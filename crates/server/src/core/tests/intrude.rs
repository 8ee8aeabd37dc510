//! Intrusion on the wire (DESIGN §2.2, §3): dave, held busy on bob who talks to alice, asks to
//! intrude; both parties are re-INVITEd onto callcomp's mixer, dave is answered into it, and
//! when he leaves the two are re-INVITEd back to each other with the SDP each had before.

use callcomp_sip::method::Method;
use callcomp_switch::{CallReason, CallState};

use super::completion::{
    call_in, cancel_causes, complete, dave_held, invite_with, one_request, HOLD_CONFIG,
};
use super::recall_join::{audio_port, released};
use super::*;

const INTRUDE: u32 = 0x4;

/// A request dave sends in the dialog the 200 `ok` to his INVITE established.
fn from_dave(method: &str, ok: &Message, seq: u32) -> String {
    let target = header(ok, HeaderName::Contact);
    let target = target.trim_start_matches('<').trim_end_matches('>');
    format!(
        "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {DAVE};branch=z9hG4bKdave{method}{seq}\r\nMax-Forwards: 70\r\n\
         From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {seq} {method}\r\nContact: <sip:dave@{DAVE}>\r\nContent-Length: 0\r\n\r\n",
        header(ok, HeaderName::From),
        header(ok, HeaderName::To),
        header(ok, HeaderName::CallId),
    )
}

/// dave intrudes into alice's call with bob; returns bob's INVITE, dave's 200, and the ports
/// of callcomp's three endpoints in the mix (alice's, bob's, dave's).
fn intruded(h: &mut Harness) -> (Message, Message, [u16; 3]) {
    let (to_bob, call) = dave_held(h);
    let features = {
        let switch = h.engine.switch();
        let f = switch.call_features(callcomp_switch::CallId::new(call).unwrap());
        f.features2
    };
    assert_ne!(features & 0x10, 0, "COMPLINTRUDE offered");
    complete(h, call, INTRUDE, 0).unwrap();
    assert!(
        h.take(DAVE).iter().all(|m| m.status() != Some(200)),
        "not before the moves"
    );
    let to_alice = one_request(h, ALICE);
    let to_bob2 = one_request(h, BOB);
    for re in [&to_alice, &to_bob2] {
        assert_eq!(re.method(), Some(&Method::Invite));
        let sdp = String::from_utf8_lossy(re.body()).into_owned();
        assert!(
            sdp.contains("c=IN IP4 127.0.0.1"),
            "callcomp's media: {sdp}"
        );
    }
    assert_ne!(to_alice.body(), to_bob2.body(), "one endpoint per party");
    h.recv(ALICE, &reply(&to_alice, 200, "a1", ALICE, Some(SDP_A)));
    assert_eq!(h.one(ALICE).method(), Some(&Method::Ack));
    assert!(
        h.take(DAVE).iter().all(|m| m.status() != Some(200)),
        "waits for both"
    );
    h.recv(BOB, &reply(&to_bob2, 200, "b1", BOB, Some(SDP_B)));
    assert_eq!(h.one(BOB).method(), Some(&Method::Ack));
    let ok = h.one(DAVE);
    assert_eq!(ok.status(), Some(200));
    assert!(String::from_utf8_lossy(ok.body()).contains("c=IN IP4 127.0.0.1"));
    h.recv(DAVE, &from_dave("ACK", &ok, 1));
    let ports = [to_alice.body(), to_bob2.body(), ok.body()].map(audio_port);
    (to_bob, ok, ports)
}

#[test]
fn the_intruder_joins_and_the_two_are_put_back_when_he_leaves() {
    let mut h = Harness::with_config(HOLD_CONFIG);
    let (to_bob, ok, _) = intruded(&mut h);
    {
        let switch = h.engine.switch();
        let dave = &switch.line_calls("dave").unwrap()[0];
        assert_eq!(
            (dave.state, dave.reason),
            (CallState::Connected, CallReason::Callcompletion)
        );
        let bob = &switch.line_calls("bob").unwrap()[0];
        assert_eq!(bob.reason, CallReason::Intrude);
    }
    assert!(h.take(ALICE).is_empty() && h.take(BOB).is_empty());

    h.recv(DAVE, &from_dave("BYE", &ok, 2));
    assert_eq!(h.one(DAVE).status(), Some(200));
    let back_alice = one_request(&mut h, ALICE);
    let back_bob = one_request(&mut h, BOB);
    assert_eq!(
        back_alice.body(),
        SDP_B.as_bytes(),
        "alice gets bob's SDP again"
    );
    assert_eq!(
        back_bob.body(),
        SDP_A.as_bytes(),
        "bob gets alice's SDP again"
    );
    h.recv(ALICE, &reply(&back_alice, 200, "a1", ALICE, Some(SDP_A)));
    h.recv(BOB, &reply(&back_bob, 200, "b1", BOB, Some(SDP_B)));
    assert_eq!(h.one(ALICE).method(), Some(&Method::Ack));
    assert_eq!(h.one(BOB).method(), Some(&Method::Ack));
    assert!(h.engine.switch().line_calls("dave").unwrap().is_empty());
    // The two are an ordinary call again: alice's call is connected and bob's BYE reaches her.
    call_in(&h, "alice", CallState::Connected);
    h.recv(BOB, &from_callee("BYE", &to_bob, "b1", 9, BOB, None));
    assert_eq!(one_request(&mut h, ALICE).method(), Some(&Method::Bye));
}

#[test]
fn when_an_original_party_leaves_the_others_go_on() {
    let mut h = Harness::with_config(HOLD_CONFIG);
    let (to_bob, ok, _) = intruded(&mut h);
    // bob hangs up: he gets 200, alice is not told; dave and alice go on.
    h.recv(BOB, &from_callee("BYE", &to_bob, "b1", 9, BOB, None));
    assert_eq!(h.one(BOB).status(), Some(200));
    assert!(h.take(ALICE).is_empty(), "alice stays in the mix with dave");
    {
        let switch = h.engine.switch();
        assert!(switch.line_calls("bob").unwrap().is_empty());
        assert_eq!(
            switch.line_calls("dave").unwrap()[0].state,
            CallState::Connected
        );
    }
    // dave leaves: alice, alone, gets a BYE.
    h.recv(DAVE, &from_dave("BYE", &ok, 2));
    assert_eq!(h.one(DAVE).status(), Some(200));
    let bye = one_request(&mut h, ALICE);
    assert_eq!(bye.method(), Some(&Method::Bye));
}

/// The B2BUA's handles of the calls of `line` and of dave (the intruder).
fn handles(h: &Harness, line: &str) -> (CallRef, CallRef) {
    let switch = h.engine.switch();
    let of = |l: &str| switch.line_calls(l).unwrap()[0].call_ref;
    (of(line), of("dave"))
}

#[test]
fn dropping_the_joined_call_ends_the_intrusion_and_frees_its_endpoints() {
    let mut h = Harness::with_config(HOLD_CONFIG);
    let (_to_bob, _ok, ports) = intruded(&mut h);
    let (into, dave) = handles(&h, "alice");
    let alice = call_in(&h, "alice", CallState::Connected);
    h.engine.drop_call(alice, h.now).unwrap();
    h.collect();
    for at in [ALICE, BOB, DAVE] {
        assert_eq!(one_request(&mut h, at).method(), Some(&Method::Bye), "{at}");
    }
    assert!(
        !h.engine.b2bua().is_intruded(into),
        "the intrusion is forgotten"
    );
    assert!(!h.engine.b2bua().is_intruder(dave), "so is its intruder");
    assert_eq!(h.engine.b2bua().call_count(), 0);
    for port in ports {
        assert!(released(port), "endpoint on {port} closed");
    }
}

#[test]
fn dropping_the_intruder_puts_the_two_back_and_frees_its_endpoints() {
    let mut h = Harness::with_config(HOLD_CONFIG);
    let (_to_bob, _ok, [alice_port, bob_port, dave_port]) = intruded(&mut h);
    let (into, dave) = handles(&h, "alice");
    let call = call_in(&h, "dave", CallState::Connected);
    h.engine.drop_call(call, h.now).unwrap();
    h.collect();
    assert_eq!(one_request(&mut h, DAVE).method(), Some(&Method::Bye));
    assert!(!h.engine.b2bua().is_intruder(dave));
    assert!(released(dave_port), "the intruder's endpoint closed");
    let back_alice = one_request(&mut h, ALICE);
    let back_bob = one_request(&mut h, BOB);
    assert_eq!(back_alice.body(), SDP_B.as_bytes(), "alice back to bob");
    h.recv(ALICE, &reply(&back_alice, 200, "a1", ALICE, Some(SDP_A)));
    h.recv(BOB, &reply(&back_bob, 200, "b1", BOB, Some(SDP_B)));
    assert!(
        !h.engine.b2bua().is_intruded(into),
        "the intrusion is forgotten"
    );
    for port in [alice_port, bob_port] {
        assert!(released(port), "endpoint on {port} closed");
    }
    call_in(&h, "alice", CallState::Connected);
}

#[test]
fn a_refused_move_fails_the_intrusion_and_puts_the_other_back() {
    let mut h = Harness::with_config(HOLD_CONFIG);
    let (_to_bob, call) = dave_held(&mut h);
    complete(&mut h, call, INTRUDE, 0).unwrap();
    let to_alice = one_request(&mut h, ALICE);
    let to_bob2 = one_request(&mut h, BOB);
    h.recv(ALICE, &reply(&to_alice, 200, "a1", ALICE, Some(SDP_A)));
    h.take(ALICE);
    h.recv(BOB, &reply(&to_bob2, 488, "b1", BOB, None));
    h.take(BOB);
    // alice, already moved, goes back to bob's SDP; dave gets 486.
    let back = one_request(&mut h, ALICE);
    assert_eq!(back.body(), SDP_B.as_bytes());
    let dave: Vec<u16> = h.take(DAVE).iter().filter_map(Message::status).collect();
    assert_eq!(dave, [486]);
    let causes = cancel_causes(&h);
    assert_eq!(causes, ["intrusion_failed"]);
}

/// A phone with a real socket on loopback that sends a sine in PCMU and keeps what it hears.
struct TonePhone {
    socket: std::net::UdpSocket,
    tone: callcomp_media::tone::ToneGenerator,
    sequence: u16,
    heard: Vec<i16>,
}

impl TonePhone {
    fn new(hz: u16) -> TonePhone {
        use callcomp_media::tone::{Tone, ToneGenerator};
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let tone = ToneGenerator::new(&Tone::cadence(&[hz], &[1000], -10, true)).unwrap();
        TonePhone {
            socket,
            tone,
            sequence: 1,
            heard: Vec::new(),
        }
    }

    /// Its SDP: PCMU at its socket.
    fn sdp(&self, user: &str) -> String {
        let port = self.socket.local_addr().unwrap().port();
        format!(
            "v=0\r\no={user} 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n"
        )
    }

    /// Sends one 20 ms frame of its tone to callcomp's `port` and keeps what arrived.
    fn step(&mut self, port: u16) {
        use callcomp_media::g711::Law;
        use callcomp_media::rtp::Packet;
        let frame = self.tone.next_frame();
        let mut payload = [0u8; callcomp_media::FRAME_SAMPLES];
        Law::MuLaw.encode_into(&frame, &mut payload);
        let ts = u32::from(self.sequence) * 160;
        let packet = Packet::new(0, self.sequence, ts, 0xabcd, &payload);
        self.sequence = self.sequence.wrapping_add(1);
        self.socket
            .send_to(&packet.to_bytes(), ("127.0.0.1", port))
            .unwrap();
        let mut buf = [0u8; 1500];
        while let Ok(len) = self.socket.recv(&mut buf) {
            if let Ok(p) = Packet::parse(&buf[..len]) {
                let mut samples = vec![0i16; p.payload.len()];
                Law::MuLaw.decode_into(p.payload, &mut samples);
                self.heard.extend(samples);
            }
        }
    }

    /// The amplitude of `hz` in the last `ms` of what it heard.
    fn hears(&self, hz: f64, ms: usize) -> f64 {
        let n = (ms * 8).min(self.heard.len());
        callcomp_media::goertzel::detect(&self.heard[self.heard.len() - n..], hz).amplitude
    }
}

/// Real audio through the media thread: alice (700 Hz), bob (1100 Hz) and dave (1500 Hz)
/// send their tones to the ports callcomp gave them; during the intrusion each hears the other
/// two and not itself (Goertzel), and afterwards alice and bob are sent back to each other's
/// own sockets.
#[test]
fn during_the_intrusion_each_party_hears_the_other_two() {
    let mut h = Harness::with_config(HOLD_CONFIG);
    let (mut alice, mut bob, mut dave) = (
        TonePhone::new(700),
        TonePhone::new(1100),
        TonePhone::new(1500),
    );
    for (user, at) in [("alice", ALICE), ("bob", BOB), ("dave", DAVE)] {
        h.register(user, at);
    }
    invite_with(&mut h, "alice", ALICE, "bob", "call-1", &alice.sdp("alice"));
    let to_bob = one_request(&mut h, BOB);
    h.recv(BOB, &reply(&to_bob, 200, "b1", BOB, Some(&bob.sdp("bob"))));
    h.take(ALICE);
    invite_with(&mut h, "dave", DAVE, "bob", "call-2", &dave.sdp("dave"));
    let to_bob2 = one_request(&mut h, BOB);
    h.recv(BOB, &reply(&to_bob2, 486, "b9", BOB, None));
    h.take(BOB);
    assert_eq!(h.one(DAVE).status(), Some(183));
    let call = call_in(&h, "dave", CallState::Busy);
    complete(&mut h, call, INTRUDE, 0).unwrap();
    let to_alice = one_request(&mut h, ALICE);
    let to_bob3 = one_request(&mut h, BOB);
    let (alice_port, bob_port) = (audio_port(to_alice.body()), audio_port(to_bob3.body()));
    h.recv(
        ALICE,
        &reply(&to_alice, 200, "a1", ALICE, Some(&alice.sdp("alice"))),
    );
    h.recv(BOB, &reply(&to_bob3, 200, "b1", BOB, Some(&bob.sdp("bob"))));
    let ok = h.one(DAVE);
    assert_eq!(ok.status(), Some(200));
    let dave_port = audio_port(ok.body());

    // 1.6 s of audio in real time (the media thread keeps its own 20 ms clock).
    for _ in 0..80 {
        alice.step(alice_port);
        bob.step(bob_port);
        dave.step(dave_port);
        std::thread::sleep(Duration::from_millis(20));
    }
    let loud = 2_000.0;
    let quiet = 60.0;
    for (name, phone, others, own) in [
        ("alice", &alice, [1100.0, 1500.0], 700.0),
        ("bob", &bob, [700.0, 1500.0], 1100.0),
        ("dave", &dave, [700.0, 1100.0], 1500.0),
    ] {
        for hz in others {
            let a = phone.hears(hz, 400);
            assert!(a > loud, "{name} hears {hz} Hz: amplitude {a}");
        }
        let a = phone.hears(own, 400);
        assert!(a < quiet, "{name} does not hear itself: amplitude {a}");
    }

    // dave leaves: alice and bob are re-INVITEd to each other's own sockets.
    h.take(ALICE);
    h.take(BOB);
    h.recv(DAVE, &from_dave("BYE", &ok, 2));
    let back_alice = one_request(&mut h, ALICE);
    let back_bob = one_request(&mut h, BOB);
    assert_eq!(
        audio_port(back_alice.body()),
        bob.socket.local_addr().unwrap().port()
    );
    assert_eq!(
        audio_port(back_bob.body()),
        alice.socket.local_addr().unwrap().port()
    );
}
