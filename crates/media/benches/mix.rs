//! The media plane's hot paths, per 20 ms tick:
//! - `mix3/one`: one 3-party G.711 conference tick: decode the three parties' frames (two µ-law,
//!   one A-law), mix (each hears the other two), encode three frames in each party's law;
//! - `mix3/thousand`: 1,000 such conferences back to back, as one core would run them in a tick
//!   (working set of 1,000 conferences, not one hot in cache);
//! - `rtp/parse+write`: parse a 172-octet G.711 packet and write it back (an RTP relay's work).
//!
//! Run: `cargo bench -p callcomp-media --bench mix`; the figures are in docs/benchmarks.md.

use std::hint::black_box;

use callcomp_media::g711::Law;
use callcomp_media::mixer::mix_frames;
use callcomp_media::rtp::Packet;
use callcomp_media::tone::{Tone, ToneGenerator};
use callcomp_media::{Frame, FRAME_SAMPLES};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const LAWS: [Law; 3] = [Law::MuLaw, Law::MuLaw, Law::ALaw];

/// One conference's state: what each party sent (encoded) and the buffers of one tick.
struct Conference {
    received: [[u8; FRAME_SAMPLES]; 3],
    decoded: [Frame; 3],
    mixed: [Frame; 3],
    sent: [[u8; FRAME_SAMPLES]; 3],
}

impl Conference {
    fn new(seed: u16) -> Self {
        let mut received = [[0u8; FRAME_SAMPLES]; 3];
        for (party, codes) in received.iter_mut().enumerate() {
            // A different tone per party and conference, so no two frames are alike.
            let hz = 300 + (seed % 50) * 10 + party as u16 * 400;
            let tone = Tone::cadence(&[hz], &[1000], -10, true);
            // Frequencies stay between 300 and 1,590 Hz: always a valid tone.
            if let Ok(mut generator) = ToneGenerator::new(&tone) {
                LAWS[party].encode_into(&generator.next_frame(), codes);
            }
        }
        Conference {
            received,
            decoded: [[0; FRAME_SAMPLES]; 3],
            mixed: [[0; FRAME_SAMPLES]; 3],
            sent: [[0; FRAME_SAMPLES]; 3],
        }
    }

    fn tick(&mut self) {
        for ((law, codes), frame) in LAWS.iter().zip(&self.received).zip(&mut self.decoded) {
            law.decode_into(codes, frame);
        }
        mix_frames(&self.decoded, None, &mut self.mixed);
        for ((law, frame), codes) in LAWS.iter().zip(&self.mixed).zip(&mut self.sent) {
            law.encode_into(frame, codes);
        }
    }
}

fn mix(c: &mut Criterion) {
    let mut group = c.benchmark_group("mix3");
    let mut one = Conference::new(1);
    group.throughput(Throughput::Elements(1));
    group.bench_function("one", |b| {
        b.iter(|| {
            one.tick();
            black_box(&one.sent);
        })
    });
    let mut many: Vec<Conference> = (0..1000).map(Conference::new).collect();
    group.throughput(Throughput::Elements(1000));
    group.bench_function("thousand", |b| {
        b.iter(|| {
            for conference in &mut many {
                conference.tick();
            }
            black_box(&many[999].sent);
        })
    });
    group.finish();
}

fn rtp(c: &mut Criterion) {
    let payload = [0xD5u8; FRAME_SAMPLES];
    let datagram = Packet::new(8, 4711, 4711 * 160, 0x1234_5678, &payload).to_bytes();
    let mut out = Vec::with_capacity(datagram.len());
    // The datagram is valid: a parse failure would leave `out` empty and show as a far too
    // fast figure, so check once before timing.
    assert!(Packet::parse(&datagram).is_ok());
    let mut group = c.benchmark_group("rtp");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse+write", |b| {
        b.iter(|| {
            out.clear();
            if let Ok(packet) = Packet::parse(black_box(&datagram)) {
                packet.write(&mut out);
            }
            black_box(&out);
        })
    });
    group.finish();
}

criterion_group!(benches, mix, rtp);
criterion_main!(benches);
