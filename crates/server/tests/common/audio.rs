//! The audio side of a phone in the end-to-end tests: an RTP socket on loopback that records
//! what callcomp sends it (decoded PCMU frames) and plays a tone of its own back, and
//! Goertzel checks of what it heard (`e2e_recall_media.rs`, `e2e_feature_tones.rs`).

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use callcomp_media::g711::Law;
use callcomp_media::goertzel;
use callcomp_media::rtp::Packet;
use callcomp_media::tone::{Tone, ToneGenerator};
use callcomp_media::FRAME_SAMPLES;

use super::LOCALHOST;

/// One 20 ms frame an audio socket heard: when, from where, what.
pub struct Frame {
    /// Since the socket started.
    pub at: Duration,
    /// The sender.
    pub from: SocketAddr,
    /// The decoded samples.
    pub samples: Vec<i16>,
}

/// What an audio socket heard.
pub struct Heard {
    /// Every frame, in arrival order.
    pub frames: Vec<Frame>,
}

impl Heard {
    /// When `hz` was first clearly present in a 200 ms stretch, from the socket's start.
    pub fn first(&self, hz: f64) -> Option<Duration> {
        first_in(&self.frames.iter().collect::<Vec<_>>(), hz)
    }

    /// [`Heard::first`] among the frames that came from `from`.
    pub fn first_from(&self, hz: f64, from: SocketAddr) -> Option<Duration> {
        let frames: Vec<&Frame> = self.frames.iter().filter(|f| f.from == from).collect();
        first_in(&frames, hz)
    }

    /// Whether `hz` was clearly present in a 200 ms stretch starting in `from..to`.
    pub fn heard_between(&self, hz: f64, from: Duration, to: Duration) -> bool {
        let frames: Vec<&Frame> = self
            .frames
            .iter()
            .filter(|f| (from..to).contains(&f.at))
            .collect();
        first_in(&frames, hz).is_some()
    }

    /// The addresses frames came from, in order of their first frame.
    pub fn sources(&self) -> Vec<SocketAddr> {
        let mut sources = Vec::new();
        for f in &self.frames {
            if !sources.contains(&f.from) {
                sources.push(f.from);
            }
        }
        sources
    }

    pub fn summary(&self) -> String {
        format!(
            "{} frames from {:?}; first 440 Hz {:?}, 620 Hz {:?}, 700 Hz {:?}, 1000 Hz {:?}",
            self.frames.len(),
            self.sources(),
            self.first(440.0),
            self.first(620.0),
            self.first(700.0),
            self.first(1000.0)
        )
    }
}

/// When `hz` was first clearly present in a 200 ms stretch of `frames`.
pub fn first_in(frames: &[&Frame], hz: f64) -> Option<Duration> {
    frames.chunks(10).find_map(|chunk| {
        let samples: Vec<i16> = chunk.iter().flat_map(|f| f.samples.clone()).collect();
        goertzel::present(&samples, hz, 0.2, 300.0).then_some(chunk[0].at)
    })
}

/// The audio side of a phone: an RTP socket on loopback playing `tone_hz` (PCMU) to whoever
/// sent to it first (callcomp's endpoint), or to the address it is told to send to (as a
/// phone does after a re-INVITE), until stopped.
pub struct Audio {
    /// The RTP port the phone's SDP names.
    pub port: u16,
    /// Where it sends: unset until the first packet came.
    peer: Arc<Mutex<Option<SocketAddr>>>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Heard>,
}

impl Audio {
    /// Starts the socket and its thread.
    pub fn start(tone_hz: u16) -> Audio {
        let socket = UdpSocket::bind((LOCALHOST, 0)).unwrap();
        socket.set_nonblocking(true).unwrap();
        let port = socket.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let peer = Arc::new(Mutex::new(None));
        let thread = std::thread::spawn({
            let (stop, peer) = (stop.clone(), peer.clone());
            move || run_audio(socket, tone_hz, &peer, &stop)
        });
        Audio {
            port,
            peer,
            stop,
            thread,
        }
    }

    /// The socket's address.
    pub fn address(&self) -> SocketAddr {
        format!("{LOCALHOST}:{}", self.port).parse().unwrap()
    }

    /// Where it sends now.
    pub fn peer(&self) -> Option<SocketAddr> {
        *self.peer.lock().unwrap()
    }

    /// Sends to `to` from now on.
    pub fn send_to(&self, to: SocketAddr) {
        *self.peer.lock().unwrap() = Some(to);
    }

    /// Stops the thread; what it heard.
    pub fn stop(self) -> Heard {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

fn run_audio(
    socket: UdpSocket,
    tone_hz: u16,
    peer: &Mutex<Option<SocketAddr>>,
    stop: &AtomicBool,
) -> Heard {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(90);
    let mut tone = ToneGenerator::new(&Tone::cadence(&[tone_hz], &[1000], -10, true)).unwrap();
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
            peer.lock().unwrap().get_or_insert(from);
            let mut samples = vec![0i16; packet.payload.len()];
            Law::MuLaw.decode_into(packet.payload, &mut samples);
            frames.push(Frame {
                at: start.elapsed(),
                from,
                samples,
            });
        }
        let to = *peer.lock().unwrap();
        if let Some(peer) = to {
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
