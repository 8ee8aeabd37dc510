//! Parser benchmarks over five realistic messages (`benches/messages/*.sip`, CRLF line ends).
//!
//! Groups:
//! - `index`: `Message::parse_datagram`, which builds the header index only.
//! - `serialize`: `Message::to_bytes` of a parsed, untouched message.
//! - `index+typed`: `parse_datagram`, then the top Via, From, To, CSeq and Call-ID read as
//!   typed headers (what a proxy or UA looks at for every message).
//!
//! Run with `cargo bench -p callcomp-sip --bench parse`; `docs/benchmarks.md` has the
//! numbers and the machine they were taken on.

use std::hint::black_box;

use callcomp_sip::headers::call_id::CallId;
use callcomp_sip::headers::cseq::CSeq;
use callcomp_sip::headers::from_to::{From, To};
use callcomp_sip::headers::via::Via;
use callcomp_sip::message::Message;
use callcomp_sip::parse::Limits;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// The benchmark messages: a softphone INVITE with SDP, its 180 and 200 (with SDP), a
/// REGISTER and an RFC 6910 call-completion NOTIFY.
const MESSAGES: [(&str, &[u8]); 5] = [
    ("invite", include_bytes!("messages/invite.sip")),
    ("ringing", include_bytes!("messages/ringing.sip")),
    ("ok", include_bytes!("messages/ok.sip")),
    ("register", include_bytes!("messages/register.sip")),
    ("notify", include_bytes!("messages/notify.sip")),
];

fn index(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("index");
    for (name, bytes) in MESSAGES {
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| Message::parse_datagram(black_box(bytes), &limits))
        });
    }
    group.finish();
}

fn serialize(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("serialize");
    for (name, bytes) in MESSAGES {
        let Ok(message) = Message::parse_datagram(bytes, &limits) else {
            // A message that does not parse has nothing to serialize; `index` shows the error.
            continue;
        };
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| b.iter(|| black_box(&message).to_bytes()));
    }
    group.finish();
}

/// Parses, then reads the five headers every transaction and dialog lookup needs; `None` if
/// any is missing or malformed.
fn index_typed(bytes: &[u8], limits: &Limits) -> Option<(Via, From, To, CSeq, CallId)> {
    let m = Message::parse_datagram(bytes, limits).ok()?;
    Some((
        m.header::<Via>()?.ok()?,
        m.header::<From>()?.ok()?,
        m.header::<To>()?.ok()?,
        m.header::<CSeq>()?.ok()?,
        m.header::<CallId>()?.ok()?,
    ))
}

fn typed(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("index+typed");
    for (name, bytes) in MESSAGES {
        if index_typed(bytes, &limits).is_none() {
            // Timing a failure would flatter the parser; such a message is left out.
            continue;
        }
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| b.iter(|| index_typed(black_box(bytes), &limits)));
    }
    group.finish();
}

criterion_group!(benches, index, serialize, typed);
criterion_main!(benches);
