//! The callback recall with real audio (issue #10): the real `callcomp serve`, SIPp phones for
//! the signalling, and the test's own RTP sockets for the audio the phones' SDP points at.
//! Each audio socket records what callcomp sends it and, once it knows where callcomp sends
//! from, plays its own tone back (alice 700 Hz, bob 1000 Hz); Goertzel says who heard what.
//!
//! The tone plan is `us` so ringback (440+480 Hz) and busy (480+620 Hz) differ by frequency.
//! Timers are short so each test lasts seconds: the callee answers 3 s after the caller took
//! the recall, which under the old flow (the caller's 200 left unacknowledged until the
//! callee answered) would have had her phone retransmitting and hearing nothing; here
//! `uas_recall_audio.xml` demands the ACK within 2 s and the audio shows ringback first.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use callcomp_media::g711::Law;
use callcomp_media::goertzel;
use callcomp_media::rtp::Packet;
use callcomp_media::tone::{Tone, ToneGenerator};
use callcomp_media::FRAME_SAMPLES;
use common::http::{get_json, poll};
use common::{callcomp, Server, ServerConfig, LOCALHOST};
use serde_json::Value;

/// Short timers and the US tone plan; the callee rings at most `ring`.
fn tables(ring: &str) -> String {
    format!(
        "[completion]\nguard_ms = 200\nrecall_callee_ring = \"{ring}\"\n\
         [media]\ncountry = \"us\"\n"
    )
}

/// How long any wait of these tests may take.
const STEP: Duration = Duration::from_secs(20);

/// What an audio socket heard: 20 ms frames with when they arrived.
struct Heard {
    frames: Vec<(Duration, Vec<i16>)>,
}

impl Heard {
    /// When `hz` was first clearly present in a 200 ms stretch, from the socket's start.
    fn first(&self, hz: f64) -> Option<Duration> {
        self.frames.chunks(10).find_map(|chunk| {
            let samples: Vec<i16> = chunk.iter().flat_map(|(_, f)| f.clone()).collect();
            goertzel::present(&samples, hz, 0.2, 300.0).then_some(chunk[0].0)
        })
    }

    fn summary(&self) -> String {
        format!(
            "{} frames; first 440 Hz {:?}, 620 Hz {:?}, 700 Hz {:?}, 1000 Hz {:?}",
            self.frames.len(),
            self.first(440.0),
            self.first(620.0),
            self.first(700.0),
            self.first(1000.0)
        )
    }
}

/// The audio side of a phone: an RTP socket on loopback playing `tone_hz` (PCMU) to whoever
/// sends to it, until stopped.
struct Audio {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Heard>,
}

impl Audio {
    fn start(tone_hz: u16) -> Audio {
        let socket = UdpSocket::bind((LOCALHOST, 0)).unwrap();
        socket.set_nonblocking(true).unwrap();
        let port = socket.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let stop = stop.clone();
            move || run_audio(socket, tone_hz, &stop)
        });
        Audio { port, stop, thread }
    }

    fn stop(self) -> Heard {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

fn run_audio(socket: UdpSocket, tone_hz: u16, stop: &AtomicBool) -> Heard {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(60);
    let mut tone = ToneGenerator::new(&Tone::cadence(&[tone_hz], &[1000], -10, true)).unwrap();
    let mut peer: Option<SocketAddr> = None;
    let mut frames = Vec::new();
    let mut buf = [0u8; 1500];
    let (mut sequence, mut timestamp) = (1u16, 0u32);
    let mut next = start;
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        while let Ok((len, from)) = socket.recv_from(&mut buf) {
            let Ok(packet) = Packet::parse(&buf[..len]) else {
                continue;
            };
            if packet.payload_type != 0 {
                continue;
            }
            peer.get_or_insert(from);
            let mut samples = vec![0i16; packet.payload.len()];
            Law::MuLaw.decode_into(packet.payload, &mut samples);
            frames.push((start.elapsed(), samples));
        }
        if let Some(peer) = peer {
            let mut payload = [0u8; FRAME_SAMPLES];
            Law::MuLaw.encode_into(&tone.next_frame(), &mut payload);
            let packet = Packet::new(0, sequence, timestamp, 0xa0d1, &payload);
            let _ = socket.send_to(&packet.to_bytes(), peer);
            sequence = sequence.wrapping_add(1);
            timestamp = timestamp.wrapping_add(FRAME_SAMPLES as u32);
        }
        next += Duration::from_millis(20);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    Heard { frames }
}

/// alice's phone for the recall, its SDP pointing at `audio`.
fn alice_phone(server: &Server, audio: &Audio) -> common::Phone {
    common::Phone::start(
        server
            .sipp_as("phone.xml", "alice")
            .ooc("uas_recall_audio.xml")
            .set("audio_port", &audio.port.to_string()),
    )
}

/// alice calls bob, who is not registered: 480; the application asks for a callback.
fn alice_asks_for_a_callback(server: &Server) -> u64 {
    server
        .sipp_as("call_expect_480.xml", "alice")
        .service("bob")
        .set("expect_m", "NL")
        .run()
        .assert_success();
    let url = format!("http://{}", server.api);
    let (_, out, _) = callcomp(&["--api", &url, "--json", "calls", "alice"]);
    let calls: Value = serde_json::from_str(&out).unwrap();
    let call = calls
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["state"] == "busy")
        .unwrap_or_else(|| panic!("no busy call: {out}"))["id"]
        .to_string();
    let (code, out, err) = callcomp(&[
        "--api", &url, "--json", "complete", &call, "--mode", "callback",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let answer: Value = serde_json::from_str(&out).unwrap();
    answer["completion_id"].as_u64().unwrap()
}

fn completions(server: &Server) -> Vec<Value> {
    get_json(server.api, "/v1/lines/alice/completions")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits until alice's request is queued again (retained) with one failed recall.
fn wait_retained(server: &Server, id: u64) {
    poll(
        STEP,
        "the request back in the queue",
        || {
            completions(server)
                .iter()
                .any(|r| r["completion_id"].as_u64() == Some(id) && r["state"] == "queued")
                .then_some(())
        },
        || format!("{:?}", completions(server)),
    );
}

/// The callee answers 3 s after the caller took the recall: she is answered at once and hears
/// ringback meanwhile, then each hears the other's tone through callcomp's relay, and the
/// request is completed.
#[test]
fn the_caller_hears_ringback_then_the_callee_who_answers_late() {
    common::require_sipp();
    let server = Server::start(ServerConfig::default().tables(&tables("10s")));
    let (alice_audio, bob_audio) = (Audio::start(700), Audio::start(1000));
    let alice = alice_phone(&server, &alice_audio);
    let id = alice_asks_for_a_callback(&server);
    let bob = common::Phone::start(
        server
            .sipp_as("phone.xml", "bob")
            .ooc("uas_answer_recall_audio.xml")
            .set("audio_port", &bob_audio.port.to_string())
            .pause_ms(2000),
    );
    let alice = alice.wait();
    alice.assert_success();
    assert!(alice.logged("recall taken"), "{}", alice.report);
    bob.wait().assert_success();
    let (alice_heard, bob_heard) = (alice_audio.stop(), bob_audio.stop());

    let ringback = alice_heard
        .first(440.0)
        .unwrap_or_else(|| panic!("{}", alice_heard.summary()));
    let callee = alice_heard
        .first(1000.0)
        .unwrap_or_else(|| panic!("{}", alice_heard.summary()));
    assert!(
        callee >= ringback + Duration::from_secs(2),
        "ringback first, then the callee: {}",
        alice_heard.summary()
    );
    assert!(
        alice_heard.first(620.0).is_none(),
        "{}",
        alice_heard.summary()
    );
    assert!(
        bob_heard.first(700.0).is_some(),
        "bob hears alice: {}",
        bob_heard.summary()
    );
    assert!(
        completions(&server)
            .iter()
            .all(|r| r["completion_id"].as_u64() != Some(id)),
        "the request completed"
    );
}

/// alice takes the recall and bob's phone (`scenario`) fails it: returns what alice heard
/// once the request is back in the queue.
fn callee_fails(scenario: &str) -> Heard {
    common::require_sipp();
    let server = Server::start(ServerConfig::default().tables(&tables("2s")));
    let alice_audio = Audio::start(700);
    let alice = alice_phone(&server, &alice_audio);
    let id = alice_asks_for_a_callback(&server);
    let bob = server.phone("bob", scenario);
    let alice = alice.wait();
    alice.assert_success();
    bob.wait().assert_success();
    wait_retained(&server, id);
    alice_audio.stop()
}

/// The callee's phone rings `recall_callee_ring` (2 s) unanswered: the caller hears ringback,
/// then the busy tone, then callcomp hangs up; the request goes back to the queue.
#[test]
fn a_callee_who_does_not_answer_puts_the_request_back_and_the_caller_hears_busy() {
    let heard = callee_fails("uas_noanswer_recall.xml");
    let ringback = heard
        .first(440.0)
        .unwrap_or_else(|| panic!("{}", heard.summary()));
    let busy = heard
        .first(620.0)
        .unwrap_or_else(|| panic!("{}", heard.summary()));
    assert!(busy > ringback, "{}", heard.summary());
}

/// The callee is busy again when the recall calls him: the caller hears the busy tone, then
/// callcomp hangs up; the request goes back to the queue.
#[test]
fn a_callee_busy_again_puts_the_request_back_and_the_caller_hears_busy() {
    let heard = callee_fails("uas_busy_recall.xml");
    assert!(heard.first(620.0).is_some(), "{}", heard.summary());
}
