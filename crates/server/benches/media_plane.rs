//! The media plane over real loopback sockets, on the engine the media thread runs
//! (`callcomp::media::unthreaded`): how many RTP packets per second it relays, and how many
//! three-party G.711 mixes it keeps on a 20 ms schedule with no packet later than 5 ms.
//!
//! Run (docs/benchmarks.md, Media):
//!   cargo bench -p callcomp --bench media_plane -- [MIXES] [SECONDS]
//! The benchmark pins itself: the engine's thread to core 0, the simulated phones' thread to
//! the other cores (with `taskset -p` on each thread's id), so the engine's core does the
//! engine's work only.
//!
//! - relay: 500 relayed pairs (1,000 endpoints); each tick every phone sends one 20 ms PCMU
//!   packet, then the engine ticks (read, jitter buffer, decode, encode, send); ticks run
//!   back to back, and the relayed packets over the time spent in `tick` give packets/second.
//! - mixes: MIXES (default 1,000) mixes of three endpoints, in real time: every 20 ms the
//!   engine ticks; the phones, on their own thread and core, send half a tick before and drain
//!   what comes back; a tick's packets are all sent when the tick returns, so a tick ending
//!   more than 5 ms after its due time means packets late by more than 5 ms.
//!   Reports ticks, ticks late, the worst and the 99th percentile tick end after due time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use callcomp::config::media::PortRange;
use callcomp::config::MediaConfig;
use callcomp::media::{unthreaded, MediaHandle, Sounds, Unthreaded};
use callcomp_media::rtp::Packet;
use callcomp_media::sdp::SessionDescription;
use callcomp_media::tone::Country;

const TICK: Duration = Duration::from_millis(20);

/// A phone: a socket that sends one PCMU frame per tick to its endpoint and drains what
/// comes back.
struct Phone {
    socket: UdpSocket,
    to: SocketAddr,
    sequence: u16,
}

impl Phone {
    fn send(&mut self, payload: &[u8]) {
        let packet = Packet::new(0, self.sequence, u32::from(self.sequence) * 160, 7, payload);
        self.sequence = self.sequence.wrapping_add(1);
        let _ = self.socket.send_to(&packet.to_bytes(), self.to);
    }

    fn drain(&self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while self.socket.recv(buf).is_ok() {
            n += 1;
        }
        n
    }
}

/// A phone and the endpoint that answered its offer.
fn phone(handle: &MediaHandle) -> (Phone, callcomp::media::EndpointId) {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    socket.set_nonblocking(true).unwrap();
    let port = socket.local_addr().unwrap().port();
    let offer = SessionDescription::parse(&format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\n"
    ))
    .unwrap();
    let (endpoint, _) = handle.answer(&offer).unwrap();
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, endpoint.local.port));
    (
        Phone {
            socket,
            to,
            sequence: 0,
        },
        endpoint.id,
    )
}

fn plane(first_port: u16, endpoints: usize) -> (MediaHandle, Unthreaded) {
    let config = MediaConfig {
        rtp_ports: PortRange {
            first: first_port,
            last: first_port + u16::try_from(endpoints * 2 + 2_000).unwrap(),
        },
        ..MediaConfig::default()
    };
    unthreaded(&config, Sounds::builtin(Country::Eu.tones()))
}

/// Pins the calling thread to `cpus` (a `taskset` list) by its thread id; a machine without
/// `taskset` runs unpinned, which the output says.
fn pin(cpus: &str) {
    let tid = std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    let pinned = tid.is_some_and(|tid| {
        std::process::Command::new("taskset")
            .args(["-pc", cpus, &tid])
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if !pinned {
        println!("(could not pin a thread to cpus {cpus}: running unpinned)");
    }
}

/// The cpus other than 0 (the engine's), or 0 itself on a one-core machine.
fn phone_cpus() -> String {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if cores > 1 {
        format!("1-{}", cores - 1)
    } else {
        "0".into()
    }
}

fn relay(pairs: usize, ticks: usize) {
    let (handle, mut engine) = plane(24_000, pairs * 2);
    let mut phones = Vec::new();
    for _ in 0..pairs {
        let (a, ea) = phone(&handle);
        let (b, eb) = phone(&handle);
        handle.relay(ea, eb);
        phones.push(a);
        phones.push(b);
    }
    engine.apply_commands();
    let payload = [0x55u8; 160];
    let mut buf = [0u8; 1500];
    let mut now = Instant::now();
    let mut in_tick = Duration::ZERO;
    let mut received = 0;
    for _ in 0..ticks {
        for p in &mut phones {
            p.send(&payload);
        }
        now += TICK;
        let started = Instant::now();
        engine.engine.tick(now).for_each(drop);
        in_tick += started.elapsed();
        received += phones.iter().map(|p| p.drain(&mut buf)).sum::<usize>();
    }
    let relayed = received as f64;
    println!(
        "relay: {pairs} pairs, {ticks} ticks: {received} packets relayed in {:.3} s of tick time: \
         {:.0} packets/s in and out ({:.1} µs per packet)",
        in_tick.as_secs_f64(),
        relayed / in_tick.as_secs_f64(),
        in_tick.as_secs_f64() * 1e6 / relayed
    );
}

fn mixes(count: usize, seconds: u64) {
    let (handle, mut engine) = plane(2_000, count * 3);
    let mut phones = Vec::new();
    for _ in 0..count {
        let mix = handle.new_mix();
        for _ in 0..3 {
            let (p, e) = phone(&handle);
            handle.join(mix, e);
            phones.push(p);
        }
    }
    engine.apply_commands();
    assert_eq!(engine.engine.mixes(), count);
    let ticks = usize::try_from(seconds * 50).unwrap();
    let start = Instant::now() + TICK;
    let done = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicUsize::new(0));
    let phones_thread = std::thread::spawn({
        let done = done.clone();
        let received = received.clone();
        move || {
            pin(&phone_cpus());
            let payload = [0x55u8; 160];
            let mut buf = [0u8; 1500];
            // Half a tick before each engine tick, so a tick finds its packets.
            let mut due = start - TICK / 2;
            while !done.load(Ordering::Relaxed) {
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                for p in &mut phones {
                    p.send(&payload);
                }
                let n = phones.iter().map(|p| p.drain(&mut buf)).sum::<usize>();
                received.fetch_add(n, Ordering::Relaxed);
                due += TICK;
            }
        }
    });
    pin("0");
    let mut lateness = Vec::with_capacity(ticks);
    let mut due = start;
    for _ in 0..ticks {
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        engine.engine.tick(due).for_each(drop);
        lateness.push(Instant::now().saturating_duration_since(due));
        due += TICK;
    }
    done.store(true, Ordering::Relaxed);
    phones_thread.join().unwrap();
    let received = received.load(Ordering::Relaxed);
    // The first ticks fill the jitter buffers; the schedule is what matters.
    let late = lateness
        .iter()
        .filter(|l| **l > Duration::from_millis(5))
        .count();
    let mut sorted = lateness.clone();
    sorted.sort();
    let p99 = sorted[sorted.len() * 99 / 100];
    let worst = sorted[sorted.len() - 1];
    println!(
        "mixes: {count} three-party mixes ({} endpoints), {ticks} ticks of 20 ms: {received} \
         packets out; tick end after due time: p99 {:.2} ms, worst {:.2} ms; ticks later than \
         5 ms: {late}",
        count * 3,
        p99.as_secs_f64() * 1e3,
        worst.as_secs_f64() * 1e3
    );
}

fn main() {
    // `cargo bench` passes `--bench`; the numbers are ours.
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let count = args.first().copied().unwrap_or(1000);
    let seconds = args.get(1).copied().unwrap_or(10) as u64;
    // The relay counts the time in `tick` only: its phones share the thread, pinned to core 0.
    let relay_thread = std::thread::spawn(|| {
        pin("0");
        relay(500, 500);
    });
    relay_thread.join().unwrap();
    mixes(count, seconds);
}
