//! The media plane over real UDP sockets on loopback: "phones" are plain sockets that send RTP
//! and check what comes back with Goertzel. The engine is ticked by hand with injected time,
//! so nothing waits on a clock (one test runs the real thread).

use std::net::{Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};

use callcomp_media::g711::Law;
use callcomp_media::goertzel;
use callcomp_media::rtp::Packet;
use callcomp_media::sdp::SessionDescription;
use callcomp_media::telephone_event::TelephoneEvent;
use callcomp_media::tone::{Country, Tone, ToneGenerator};
use callcomp_media::{Frame, FRAME_SAMPLES};

use super::engine::MediaEvent;
use super::*;
use crate::config::media::PortRange;

const RANGE: PortRange = PortRange {
    first: 21600,
    last: 21799,
};

/// A handle and an engine ticked by the test.
struct Plane {
    handle: MediaHandle,
    engine: Unthreaded,
    now: Instant,
}

impl Plane {
    fn new() -> Self {
        Plane::with(crate::config::MediaConfig::default())
    }

    /// A plane on the test's port range with `config`'s other keys.
    fn with(config: crate::config::MediaConfig) -> Self {
        let config = crate::config::MediaConfig {
            rtp_ports: RANGE,
            ..config
        };
        let (handle, engine) = unthreaded(&config, Sounds::builtin(Country::Eu.tones()));
        Plane {
            handle,
            engine,
            now: Instant::now(),
        }
    }

    /// Applies the queued commands and runs one tick 20 ms after the last.
    fn tick(&mut self) -> Vec<MediaEvent> {
        self.now += Duration::from_millis(20);
        self.engine.tick(self.now)
    }
}

/// A phone: a socket that sends 20 ms RTP frames and reads what arrives.
struct Phone {
    socket: UdpSocket,
    law: Law,
    payload_type: u8,
    sequence: u16,
    timestamp: u32,
}

/// One packet a phone received.
struct Heard {
    payload_type: u8,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    marker: bool,
    payload: Vec<u8>,
}

impl Phone {
    fn new(law: Law) -> Self {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        socket.set_nonblocking(true).unwrap();
        let payload_type = match law {
            Law::MuLaw => 0,
            Law::ALaw => 8,
        };
        Phone {
            socket,
            law,
            payload_type,
            sequence: 100,
            timestamp: 1000,
        }
    }

    fn offer(&self) -> SessionDescription {
        let port = self.socket.local_addr().unwrap().port();
        SessionDescription::parse(&format!(
            "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP {pt} 101\r\na=rtpmap:101 telephone-event/8000\r\n",
            pt = self.payload_type
        ))
        .unwrap()
    }

    fn send_to(&mut self, port: u16, payload_type: u8, payload: &[u8], timestamp: u32) {
        let packet = Packet::new(payload_type, self.sequence, timestamp, 0xfeed, payload);
        self.sequence = self.sequence.wrapping_add(1);
        self.socket
            .send_to(&packet.to_bytes(), (Ipv4Addr::LOCALHOST, port))
            .unwrap();
    }

    fn send_frame(&mut self, port: u16, frame: &Frame) {
        let mut payload = [0u8; FRAME_SAMPLES];
        self.law.encode_into(frame, &mut payload);
        let timestamp = self.timestamp;
        self.timestamp = self.timestamp.wrapping_add(160);
        self.send_to(port, self.payload_type, &payload, timestamp);
    }

    fn receive(&self) -> Vec<Heard> {
        let mut buf = [0u8; 1500];
        let mut out = Vec::new();
        while let Ok(len) = self.socket.recv(&mut buf) {
            let p = Packet::parse(&buf[..len]).unwrap();
            out.push(Heard {
                payload_type: p.payload_type,
                sequence: p.sequence,
                timestamp: p.timestamp,
                ssrc: p.ssrc,
                marker: p.marker,
                payload: p.payload.to_vec(),
            });
        }
        out
    }

    /// The audio received, decoded in this phone's law.
    fn audio(&self, heard: &[Heard]) -> Vec<i16> {
        let mut samples = Vec::new();
        for h in heard.iter().filter(|h| h.payload_type == self.payload_type) {
            let mut frame = vec![0i16; h.payload.len()];
            self.law.decode_into(&h.payload, &mut frame);
            samples.extend(frame);
        }
        samples
    }
}

fn sine(hz: u16) -> ToneGenerator {
    ToneGenerator::new(&Tone::cadence(&[hz], &[1000], -10, true)).unwrap()
}

#[test]
fn an_answered_phone_hears_ringback_in_its_law_with_a_proper_rtp_stream() {
    let mut plane = Plane::new();
    let phone = Phone::new(Law::ALaw);
    let (endpoint, answer) = plane.handle.answer(&phone.offer()).unwrap();
    assert_eq!(answer.stream.payload_type, 8);
    let answer_text = String::from_utf8(answer.sdp.to_bytes()).unwrap();
    assert!(
        answer_text.contains(&format!("m=audio {} RTP/AVP 8 101", endpoint.local.port)),
        "{answer_text}"
    );
    assert!(answer_text.contains("c=IN IP4 127.0.0.1"), "{answer_text}");
    assert_eq!(endpoint.local.port % 2, 0);
    assert!((RANGE.first..=RANGE.last).contains(&endpoint.local.port));

    plane
        .handle
        .play(endpoint.id, vec![Prompt::Tone(ToneKind::Ringback)]);
    for _ in 0..25 {
        plane.tick();
    }
    let heard = phone.receive();
    assert_eq!(heard.len(), 25, "one packet per 20 ms tick");
    assert!(
        heard[0].marker && !heard[1].marker,
        "marker on the first packet only"
    );
    for pair in heard.windows(2) {
        assert_eq!(pair[1].sequence, pair[0].sequence.wrapping_add(1));
        assert_eq!(pair[1].timestamp, pair[0].timestamp.wrapping_add(160));
        assert_eq!(pair[1].ssrc, pair[0].ssrc);
        assert_eq!(pair[1].payload_type, 8);
    }
    // EU ringback: 425 Hz for the first second.
    let audio = phone.audio(&heard);
    assert!(goertzel::present(&audio[..4000], 425.0, 0.9, 1000.0));
}

#[test]
fn a_relay_carries_each_side_to_the_other_across_laws() {
    let mut plane = Plane::new();
    let mut alice = Phone::new(Law::MuLaw);
    let mut bob = Phone::new(Law::ALaw);
    let (a, _) = plane.handle.answer(&alice.offer()).unwrap();
    let (b, _) = plane.handle.answer(&bob.offer()).unwrap();
    plane.handle.relay(a.id, b.id);
    let (mut alice_tone, mut bob_tone) = (sine(700), sine(1300));
    for _ in 0..30 {
        alice.send_frame(a.local.port, &alice_tone.next_frame());
        bob.send_frame(b.local.port, &bob_tone.next_frame());
        plane.tick();
    }
    // The jitter buffer holds two frames back: 28 of 30 come through.
    let bob_heard = bob.receive();
    let alice_heard = alice.receive();
    assert_eq!(bob_heard.len(), 28);
    assert_eq!(alice_heard.len(), 28);
    let to_bob = bob.audio(&bob_heard);
    let to_alice = alice.audio(&alice_heard);
    assert!(goertzel::present(&to_bob, 700.0, 0.9, 1000.0));
    assert!(!goertzel::present(&to_bob, 1300.0, 0.05, 100.0), "no echo");
    assert!(goertzel::present(&to_alice, 1300.0, 0.9, 1000.0));
}

/// A stranger who finds alice's endpoint port and sends to it: what bob hears of it.
fn stranger_heard_by_bob(rtp_source: crate::config::media::RtpSource) -> (bool, u64) {
    let mut plane = Plane::with(crate::config::MediaConfig {
        rtp_source,
        ..Default::default()
    });
    let mut alice = Phone::new(Law::MuLaw);
    let mut stranger = Phone::new(Law::MuLaw);
    let bob = Phone::new(Law::MuLaw);
    let (a, _) = plane.handle.answer(&alice.offer()).unwrap();
    let (b, _) = plane.handle.answer(&bob.offer()).unwrap();
    plane.handle.relay(a.id, b.id);
    let mut silence = sine(700);
    let mut injected = sine(1300);
    for i in 0..30 {
        // alice talks for the first frames only, then the stranger has the port to itself.
        if i < 5 {
            alice.send_frame(a.local.port, &silence.next_frame());
        }
        stranger.send_frame(a.local.port, &injected.next_frame());
        plane.tick();
    }
    let heard = bob.audio(&bob.receive());
    let foreign = plane.engine.engine.endpoint(a.id).unwrap().stats().foreign;
    (goertzel::present(&heard, 1300.0, 0.5, 1000.0), foreign)
}

#[test]
fn a_stranger_cannot_inject_audio_into_a_relay() {
    let (heard, foreign) = stranger_heard_by_bob(crate::config::media::RtpSource::Negotiated);
    assert!(!heard, "the stranger's 1300 Hz reached bob");
    assert_eq!(foreign, 30, "every stranger datagram dropped and counted");
}

#[test]
fn rtp_source_host_takes_any_port_of_the_phone_host() {
    // On loopback the stranger is on the phone's host: "host" takes it, which is the point of
    // the setting (a phone sending from another port) and why it is not the default.
    let (heard, foreign) = stranger_heard_by_bob(crate::config::media::RtpSource::Host);
    assert!(heard);
    assert_eq!(foreign, 0);
}

#[test]
fn sdp_aiming_at_our_own_ports_or_a_service_is_refused_and_frees_the_pair() {
    // A range of its own: the other tests' planes (other processes) bind in RANGE.
    let own = PortRange {
        first: 21950,
        last: 21959,
    };
    let config = crate::config::MediaConfig {
        rtp_ports: own,
        ..Default::default()
    };
    let (handle, _engine) = unthreaded(&config, Sounds::builtin(Country::Eu.tones()));
    for port in [own.first, 53] {
        let offer = SessionDescription::parse(&format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0\r\n"
        ))
        .unwrap();
        let e = handle.answer(&offer).unwrap_err();
        assert_eq!(e.status(), 488, "{port}: {e}");
    }
    // Both refusals bound a pair and dropped it: the range's first two pairs are free.
    for port in [own.first, own.first + 2] {
        UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).expect("the refused endpoint's pair is free");
    }
}

#[test]
fn a_re_offer_to_a_forbidden_address_keeps_the_endpoint_as_it_was() {
    let mut plane = Plane::with(crate::config::MediaConfig {
        peers: vec!["127.0.0.0/8".parse().unwrap()],
        ..Default::default()
    });
    let phone = Phone::new(Law::MuLaw);
    let (mut endpoint, _) = plane.handle.answer(&phone.offer()).unwrap();
    let version = endpoint.local.session_version;
    let elsewhere = SessionDescription::parse(
        "v=0\r\no=- 1 2 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
         m=audio 4000 RTP/AVP 0\r\n",
    )
    .unwrap();
    let e = plane
        .handle
        .answer_again(&mut endpoint, &elsewhere)
        .unwrap_err();
    assert!(e.to_string().contains("media.peers"), "{e}");
    assert_eq!(endpoint.local.session_version, version);
    plane
        .handle
        .play(endpoint.id, vec![Prompt::Tone(ToneKind::Busy)]);
    for _ in 0..3 {
        plane.tick();
    }
    assert_eq!(phone.receive().len(), 3, "still sending to the phone");
}

#[test]
fn a_three_party_mix_gives_each_the_others() {
    let mut plane = Plane::new();
    let mut phones = [
        Phone::new(Law::MuLaw),
        Phone::new(Law::ALaw),
        Phone::new(Law::MuLaw),
    ];
    let endpoints: Vec<Endpoint> = phones
        .iter()
        .map(|p| plane.handle.answer(&p.offer()).unwrap().0)
        .collect();
    let mix = plane.handle.new_mix();
    for e in &endpoints {
        plane.handle.join(mix, e.id);
    }
    let mut tones = [sine(500), sine(1100)];
    for _ in 0..30 {
        for i in 0..2 {
            let frame = tones[i].next_frame();
            phones[i].send_frame(endpoints[i].local.port, &frame);
        }
        plane.tick();
    }
    let audio: Vec<Vec<i16>> = phones.iter().map(|p| p.audio(&p.receive())).collect();
    // The third (silent) party hears both talkers; each talker hears the other, not itself.
    let third = &audio[2][1600..];
    assert!(goertzel::detect(third, 500.0).amplitude > 1000.0);
    assert!(goertzel::detect(third, 1100.0).amplitude > 1000.0);
    assert!(goertzel::present(&audio[0][1600..], 1100.0, 0.9, 1000.0));
    assert!(goertzel::detect(&audio[0][1600..], 500.0).amplitude < 100.0);
    assert!(goertzel::present(&audio[1][1600..], 500.0, 0.9, 1000.0));

    // The third leaves (closes): the two go on hearing each other.
    plane.handle.close(endpoints[2].id);
    plane.tick();
    phones[0].receive();
    for _ in 0..10 {
        let frame = tones[1].next_frame();
        phones[1].send_frame(endpoints[1].local.port, &frame);
        plane.tick();
    }
    assert!(goertzel::present(
        &phones[0].audio(&phones[0].receive()),
        1100.0,
        0.9,
        1000.0
    ));
    assert_eq!(plane.engine.engine.endpoints(), 2);
    assert_eq!(plane.engine.engine.mixes(), 1);
}

#[test]
fn a_warning_tone_over_a_mix_reaches_every_party() {
    let mut plane = Plane::new();
    let phones = [Phone::new(Law::MuLaw), Phone::new(Law::MuLaw)];
    let mix = plane.handle.new_mix();
    for p in &phones {
        let (e, _) = plane.handle.answer(&p.offer()).unwrap();
        plane.handle.join(mix, e.id);
    }
    plane.tick();
    plane
        .handle
        .play_over_mix(mix, vec![Prompt::Tone(ToneKind::Warning)]);
    for _ in 0..10 {
        plane.tick();
    }
    for p in &phones {
        let audio = p.audio(&p.receive());
        assert!(goertzel::present(&audio, 425.0, 0.9, 1000.0));
    }
}

#[test]
fn telephone_events_are_reported_once_and_passed_to_a_relay_partner() {
    let mut plane = Plane::new();
    let mut alice = Phone::new(Law::MuLaw);
    let bob = Phone::new(Law::MuLaw);
    let (a, _) = plane.handle.answer(&alice.offer()).unwrap();
    let (b, _) = plane.handle.answer(&bob.offer()).unwrap();
    plane.handle.relay(a.id, b.id);
    let mut events = Vec::new();
    // Key 5: two progress packets and the end three times (RFC 4733 §2.5.1.4), one timestamp.
    for (end, duration) in [
        (false, 160),
        (false, 320),
        (true, 480),
        (true, 480),
        (true, 480),
    ] {
        let event = TelephoneEvent::new(5, end, 10, duration).unwrap();
        alice.send_to(a.local.port, 101, &event.to_bytes(), 5000);
        events.extend(plane.tick());
    }
    for _ in 0..4 {
        events.extend(plane.tick());
    }
    assert_eq!(
        events,
        vec![MediaEvent::Dtmf {
            endpoint: a.id,
            key: '5'
        }]
    );
    let passed: Vec<Heard> = bob
        .receive()
        .into_iter()
        .filter(|h| h.payload_type == 101)
        .collect();
    assert_eq!(passed.len(), 5);
    assert!(passed.iter().all(|h| h.timestamp == passed[0].timestamp));
    let last = TelephoneEvent::parse(&passed[4].payload).unwrap();
    assert_eq!(
        (last.dtmf(), last.end, last.duration),
        (Some('5'), true, 480)
    );
}

#[test]
fn our_offer_sends_nothing_until_answered_and_close_frees_the_port() {
    let mut plane = Plane::new();
    let phone = Phone::new(Law::ALaw);
    let (endpoint, offer) = plane.handle.offer().unwrap();
    let text = String::from_utf8(offer.to_bytes()).unwrap();
    assert!(text.contains(&format!("m=audio {} RTP/AVP 0 8 101", endpoint.local.port)));
    plane
        .handle
        .play(endpoint.id, vec![Prompt::Tone(ToneKind::Busy)]);
    plane.tick();
    assert!(phone.receive().is_empty(), "no remote yet");

    // The phone answers PCMA only.
    let port = phone.socket.local_addr().unwrap().port();
    let answer = SessionDescription::parse(&format!(
        "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 8\r\n"
    ))
    .unwrap();
    let negotiated = plane.handle.accept_answer(&endpoint, &answer).unwrap();
    assert_eq!(negotiated.payload_type, 8);
    for _ in 0..5 {
        plane.tick();
    }
    let heard = phone.receive();
    assert_eq!(heard.len(), 5);
    assert!(goertzel::present(&phone.audio(&heard), 425.0, 0.9, 1000.0));

    plane.handle.close(endpoint.id);
    plane.tick();
    assert_eq!(plane.engine.engine.endpoints(), 0);
    UdpSocket::bind((Ipv4Addr::LOCALHOST, endpoint.local.port)).expect("the port is free again");
}

#[test]
fn an_offer_without_g711_is_refused_with_488() {
    let plane = Plane::new();
    let offer = SessionDescription::parse(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio 4000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n",
    )
    .unwrap();
    let e = plane.handle.answer(&offer).unwrap_err();
    assert_eq!(e.status(), 488);
}

#[test]
fn the_thread_plays_a_prompt_and_reports_its_end() {
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let config = crate::config::MediaConfig {
        rtp_ports: PortRange {
            first: 21800,
            last: 21899,
        },
        ..Default::default()
    };
    let (handle, thread) = spawn(
        &config,
        Sounds::builtin(Country::Eu.tones()),
        Some(events_tx),
    )
    .unwrap();
    let phone = Phone::new(Law::MuLaw);
    let (endpoint, _) = handle.answer(&phone.offer()).unwrap();
    handle.play(endpoint.id, vec![Prompt::Tone(ToneKind::Confirmation)]);
    let mut waited = 0;
    let event = loop {
        match events.try_recv() {
            Ok(event) => break event,
            Err(_) if waited < 500 => {
                waited += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("no event from the media thread after 10 s: {e}"),
        }
    };
    assert_eq!(
        event,
        MediaEvent::Played {
            endpoint: endpoint.id
        }
    );
    // 500 ms of confirmation tone: 25 packets.
    let heard = phone.receive();
    assert_eq!(heard.len(), 25);
    assert!(goertzel::present(
        &phone.audio(&heard)[..800],
        425.0,
        0.9,
        1000.0
    ));
    assert!(thread.stats().ticks() >= 25);
    thread.stop();
}
