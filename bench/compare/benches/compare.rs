//! callcomp-sip, sipx-sip and rsipstack parsing the same five messages.
//!
//! Group `parse`: bytes to a message value, each crate's ordinary entry point for a received
//! datagram. Group `typed`: the same, then the top Via, From, To, CSeq and Call-ID read as
//! typed values (Call-ID as a string where a crate has no type for it). Benchmark ids are
//! `<group>/<parser>/<message>`; `table.py` turns the results into a markdown table.
//! `README.md` says what each parser does and does not do for that time.

use std::hint::black_box;

use bytes::Bytes;
use callcomp_bench_compare::MESSAGES;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

mod callcomp {
    use callcomp_sip::headers::call_id::CallId;
    use callcomp_sip::headers::cseq::CSeq;
    use callcomp_sip::headers::from_to::{From, To};
    use callcomp_sip::headers::via::Via;
    use callcomp_sip::message::Message;
    use callcomp_sip::parse::Limits;

    pub fn parse(bytes: &[u8], limits: &Limits) -> Option<Message> {
        Message::parse_datagram(bytes, limits).ok()
    }

    /// Parses, then reads the five headers as typed values; `None` if any is missing or bad.
    pub fn typed(bytes: &[u8], limits: &Limits) -> Option<(Via, From, To, CSeq, CallId)> {
        let m = Message::parse_datagram(bytes, limits).ok()?;
        Some((
            m.header::<Via>()?.ok()?,
            m.header::<From>()?.ok()?,
            m.header::<To>()?.ok()?,
            m.header::<CSeq>()?.ok()?,
            m.header::<CallId>()?.ok()?,
        ))
    }
}

mod sipx {
    use bytes::Bytes;
    use sipx_sip::headers::{From, To, Via};
    use sipx_sip::message::Message;
    use sipx_sip::parser::{parse_datagram, Limits};
    use sipx_sip::{CSeq, CallId};

    /// `Bytes` is reference counted: the caller hands over a buffer, no copy is made.
    pub fn parse(bytes: Bytes, limits: &Limits) -> Option<Message> {
        parse_datagram(bytes, limits).ok()
    }

    /// Parses, then reads the five headers as typed values; `None` if any is missing or bad.
    pub fn typed(bytes: Bytes, limits: &Limits) -> Option<(Via, From, To, CSeq, CallId)> {
        let m = parse_datagram(bytes, limits).ok()?;
        let h = m.headers();
        Some((
            h.typed::<Via>()?.ok()?,
            h.typed::<From>()?.ok()?,
            h.typed::<To>()?.ok()?,
            h.typed::<CSeq>()?.ok()?,
            h.typed::<CallId>()?.ok()?,
        ))
    }
}

mod rsipstack {
    use rsipstack::sip::headers::typed;
    use rsipstack::sip::prelude::{HeadersExt, ToTypedHeader};
    use rsipstack::sip::SipMessage;

    pub fn parse(bytes: &[u8]) -> Option<SipMessage> {
        SipMessage::try_from(bytes).ok()
    }

    /// Parses, then reads Via, From, To and CSeq typed and Call-ID as text (the crate has no
    /// typed Call-ID); `None` if any is missing or bad.
    pub fn typed(bytes: &[u8]) -> Option<(typed::Via, typed::From, typed::To, typed::CSeq, usize)> {
        let m = SipMessage::try_from(bytes).ok()?;
        Some((
            m.via_header().ok()?.typed().ok()?,
            m.from_header().ok()?.typed().ok()?,
            m.to_header().ok()?.typed().ok()?,
            m.cseq_header().ok()?.typed().ok()?,
            m.call_id_header().ok()?.value().len(),
        ))
    }
}

fn parse(c: &mut Criterion) {
    let ours = callcomp_sip::parse::Limits::default();
    let theirs = sipx_sip::parser::Limits::datagram();
    let mut group = c.benchmark_group("parse");
    for (name, bytes) in MESSAGES {
        // Only successful parses are worth timing; an error path would flatter a parser.
        assert!(callcomp::parse(bytes, &ours).is_some(), "callcomp: {name}");
        assert!(
            sipx::parse(Bytes::from_static(bytes), &theirs).is_some(),
            "sipx: {name}"
        );
        assert!(rsipstack::parse(bytes).is_some(), "rsipstack: {name}");
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(BenchmarkId::new("callcomp", name), |b| {
            b.iter(|| callcomp::parse(black_box(bytes), &ours))
        });
        group.bench_function(BenchmarkId::new("sipx", name), |b| {
            b.iter(|| sipx::parse(Bytes::from_static(black_box(bytes)), &theirs))
        });
        group.bench_function(BenchmarkId::new("rsipstack", name), |b| {
            b.iter(|| rsipstack::parse(black_box(bytes)))
        });
    }
    group.finish();
}

fn typed(c: &mut Criterion) {
    let ours = callcomp_sip::parse::Limits::default();
    let theirs = sipx_sip::parser::Limits::datagram();
    let mut group = c.benchmark_group("typed");
    for (name, bytes) in MESSAGES {
        assert!(
            sipx::typed(Bytes::from_static(bytes), &theirs).is_some(),
            "sipx: {name}"
        );
        assert!(rsipstack::typed(bytes).is_some(), "rsipstack: {name}");
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(BenchmarkId::new("callcomp", name), |b| {
            b.iter(|| callcomp::typed(black_box(bytes), &ours))
        });
        group.bench_function(BenchmarkId::new("sipx", name), |b| {
            b.iter(|| sipx::typed(Bytes::from_static(black_box(bytes)), &theirs))
        });
        group.bench_function(BenchmarkId::new("rsipstack", name), |b| {
            b.iter(|| rsipstack::typed(black_box(bytes)))
        });
    }
    group.finish();
}

criterion_group!(benches, parse, typed);
criterion_main!(benches);
