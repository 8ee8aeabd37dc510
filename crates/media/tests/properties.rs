//! Property tests: RTP, SDP and telephone-event round trips, G.711 idempotence, the mixer's
//! sums, and in-order playout of a jittered stream.

use std::time::{Duration, Instant};

use callcomp_media::g711::Law;
use callcomp_media::jitter::{JitterBuffer, JitterConfig, Playout};
use callcomp_media::mixer::mix_frames;
use callcomp_media::rtp::{Extension, Packet, RtpError};
use callcomp_media::sdp::{
    Address, Attribute, Direction, Media, Origin, RawLine, SessionDescription, Timing,
};
use callcomp_media::telephone_event::TelephoneEvent;
use callcomp_media::{Frame, FRAME_SAMPLES};
use proptest::prelude::*;

// ---- RTP ----

#[derive(Debug, Clone)]
struct PacketParts {
    marker: bool,
    payload_type: u8,
    sequence: u16,
    timestamp: u32,
    ssrc: u32,
    csrcs: Vec<u32>,
    extension: Option<(u16, Vec<u8>)>,
    payload: Vec<u8>,
    padding: u8,
}

fn packet_parts() -> impl Strategy<Value = PacketParts> {
    (
        any::<bool>(),
        0u8..128,
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        prop::collection::vec(any::<u32>(), 0..=15),
        prop::option::of((
            any::<u16>(),
            (0usize..8).prop_flat_map(|w| prop::collection::vec(any::<u8>(), w * 4)),
        )),
        prop::collection::vec(any::<u8>(), 0..300),
        any::<u8>(),
    )
        .prop_map(
            |(
                marker,
                payload_type,
                sequence,
                timestamp,
                ssrc,
                csrcs,
                extension,
                payload,
                padding,
            )| PacketParts {
                marker,
                payload_type,
                sequence,
                timestamp,
                ssrc,
                csrcs,
                extension,
                payload,
                padding,
            },
        )
}

fn build(parts: &PacketParts) -> Result<Packet<'_>, RtpError> {
    let mut p = Packet::new(
        parts.payload_type,
        parts.sequence,
        parts.timestamp,
        parts.ssrc,
        &parts.payload,
    );
    p.marker = parts.marker;
    p.padding = parts.padding;
    p.set_csrcs(&parts.csrcs)?;
    p.set_extension(parts.extension.as_ref().map(|(profile, data)| Extension {
        profile: *profile,
        data,
    }))?;
    Ok(p)
}

proptest! {
    #[test]
    fn rtp_packets_round_trip(parts in packet_parts()) {
        let packet = build(&parts).unwrap();
        let bytes = packet.to_bytes();
        prop_assert_eq!(bytes.len(), packet.len());
        let parsed = Packet::parse(&bytes).unwrap();
        prop_assert_eq!(&parsed, &packet);
        prop_assert_eq!(parsed.to_bytes(), bytes);
    }

    #[test]
    fn any_bytes_parse_or_fail_cleanly_and_reparse_the_same(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(packet) = Packet::parse(&bytes) {
            let written = packet.to_bytes();
            prop_assert_eq!(Packet::parse(&written).unwrap(), packet);
        }
    }
}

// ---- G.711 ----

proptest! {
    #[test]
    fn g711_encode_decode_is_idempotent(sample in any::<i16>()) {
        for law in [Law::MuLaw, Law::ALaw] {
            let code = law.encode(sample);
            let value = law.decode(code);
            prop_assert_eq!(law.encode(value), code, "{:?}", law);
            prop_assert_eq!(law.decode(law.encode(value)), value);
        }
    }
}

// ---- RFC 4733 ----

proptest! {
    #[test]
    fn telephone_events_round_trip(event in any::<u8>(), end in any::<bool>(), volume in 0u8..64, duration in any::<u16>()) {
        let ev = TelephoneEvent::new(event, end, volume, duration).unwrap();
        prop_assert_eq!(TelephoneEvent::parse(&ev.to_bytes()).unwrap(), ev);
    }
}

// ---- mixer ----

proptest! {
    #[test]
    fn each_output_is_the_saturated_sum_of_the_others(values in prop::collection::vec(any::<i16>(), 2..7), overlay in any::<i16>()) {
        let inputs: Vec<Frame> = values.iter().map(|&v| [v; FRAME_SAMPLES]).collect();
        let mut outputs = vec![[0i16; FRAME_SAMPLES]; inputs.len()];
        mix_frames(&inputs, Some(&[overlay; FRAME_SAMPLES]), &mut outputs);
        let total: i32 = values.iter().map(|&v| i32::from(v)).sum::<i32>() + i32::from(overlay);
        for (i, out) in outputs.iter().enumerate() {
            let expected = (total - i32::from(values[i])).clamp(-32768, 32767);
            prop_assert!(out.iter().all(|&s| i32::from(s) == expected));
        }
    }
}

// ---- jitter buffer ----

proptest! {
    /// Packets sent every 20 ms and delayed by up to 35 ms each (so reordered) play out in
    /// order, none lost, with the default 40 ms cushion.
    #[test]
    fn jittered_packets_play_out_in_order(first in any::<u16>(), delays in prop::collection::vec(0u64..35, 1..60)) {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut arrivals: Vec<(Duration, u16)> = delays
            .iter()
            .enumerate()
            .map(|(i, &d)| (ms(i as u64 * 20 + d), first.wrapping_add(i as u16)))
            .collect();
        arrivals.sort();
        let payloads: Vec<[u8; 2]> = arrivals.iter().map(|(_, seq)| seq.to_be_bytes()).collect();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut pending = arrivals.iter().zip(&payloads).peekable();
        let mut played = Vec::new();
        let mut tick = 0;
        // Tick every 20 ms (phase 1 ms after the millisecond grid), delivering what has arrived.
        while played.len() < delays.len() && tick < 400 {
            let now = ms(tick * 20 + 1);
            while let Some(((at, seq), payload)) = pending.peek() {
                if *at > now { break; }
                jb.push(&Packet::new(0, *seq, 0, 7, payload.as_slice()), t0 + *at);
                pending.next();
            }
            match jb.pop(t0 + now) {
                Playout::Packet(b) => played.push(u16::from_be_bytes([b.payload[0], b.payload[1]])),
                Playout::Lost { extended } => prop_assert!(false, "lost {}", extended),
                Playout::Waiting => prop_assert!(played.is_empty(), "underrun after start"),
            }
            tick += 1;
        }
        let expected: Vec<u16> = (0..delays.len()).map(|i| first.wrapping_add(i as u16)).collect();
        prop_assert_eq!(played, expected);
        prop_assert_eq!(jb.stats().late, 0);
    }
}

// ---- SDP ----

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9._/+-]{0,12}"
}

fn text() -> impl Strategy<Value = String> {
    "[ -~]{0,20}"
}

fn address() -> impl Strategy<Value = Address> {
    (token(), token(), token()).prop_map(|(net_type, addr_type, address)| Address {
        net_type,
        addr_type,
        address,
    })
}

fn attribute() -> impl Strategy<Value = Attribute> {
    prop_oneof![
        (
            0u8..128,
            "[A-Za-z0-9-]{1,12}",
            any::<u32>(),
            prop::option::of("[0-9]{1,2}")
        )
            .prop_map(
                |(payload_type, encoding, clock_rate, params)| Attribute::Rtpmap {
                    payload_type,
                    encoding,
                    clock_rate,
                    params
                }
            ),
        ("[0-9]{1,3}", text()).prop_map(|(format, params)| Attribute::Fmtp { format, params }),
        any::<u32>().prop_map(Attribute::Ptime),
        prop_oneof![
            Just(Direction::SendRecv),
            Just(Direction::SendOnly),
            Just(Direction::RecvOnly),
            Just(Direction::Inactive)
        ]
        .prop_map(Attribute::Direction),
        ("x-[a-z0-9-]{1,10}", prop::option::of(text()))
            .prop_map(|(name, value)| Attribute::Other { name, value }),
    ]
}

/// Untyped lines in the order the writer puts them (RFC 4566 §5), so equality holds.
fn session_lines() -> impl Strategy<Value = Vec<RawLine>> {
    prop::collection::vec(
        (
            prop::sample::select(vec!['i', 'u', 'e', 'p', 'b', 'r', 'z', 'k', 'x']),
            text(),
        ),
        0..5,
    )
    .prop_map(|mut lines| {
        let rank = |k: char| {
            if "iuep".contains(k) {
                0
            } else if k == 'b' {
                1
            } else {
                2
            }
        };
        lines.sort_by_key(|(k, _)| rank(*k));
        lines
            .into_iter()
            .map(|(kind, value)| RawLine { kind, value })
            .collect()
    })
}

fn media_lines() -> impl Strategy<Value = Vec<RawLine>> {
    prop::collection::vec((prop::sample::select(vec!['i', 'b', 'k']), text()), 0..3).prop_map(
        |mut lines| {
            lines.sort_by_key(|(k, _)| *k != 'i');
            lines
                .into_iter()
                .map(|(kind, value)| RawLine { kind, value })
                .collect()
        },
    )
}

fn media() -> impl Strategy<Value = Media> {
    (
        "[a-z]{1,11}",
        any::<u16>(),
        prop::option::of(any::<u16>()),
        token(),
        prop::collection::vec("[0-9]{1,3}", 0..5),
        prop::option::of(address()),
        media_lines(),
        prop::collection::vec(attribute(), 0..6),
    )
        .prop_map(
            |(media, port, port_count, proto, formats, connection, other_lines, attributes)| {
                Media {
                    media,
                    port,
                    port_count,
                    proto,
                    formats,
                    connection,
                    other_lines,
                    attributes,
                }
            },
        )
}

fn session() -> impl Strategy<Value = SessionDescription> {
    (
        (token(), "[0-9]{1,20}", any::<u64>(), address()),
        text(),
        prop::option::of(address()),
        prop::collection::vec((any::<u64>(), any::<u64>()), 1..3),
        session_lines(),
        prop::collection::vec(attribute(), 0..4),
        prop::collection::vec(media(), 0..4),
    )
        .prop_map(
            |(
                (username, session_id, session_version, addr),
                session_name,
                connection,
                timing,
                other_lines,
                attributes,
                media,
            )| {
                SessionDescription {
                    origin: Origin {
                        username,
                        session_id,
                        session_version,
                        address: addr,
                    },
                    session_name,
                    connection,
                    timing: timing
                        .into_iter()
                        .map(|(start, stop)| Timing { start, stop })
                        .collect(),
                    other_lines,
                    attributes,
                    media,
                }
            },
        )
}

proptest! {
    #[test]
    fn sdp_round_trips(sdp in session()) {
        let text = sdp.to_string();
        let parsed = SessionDescription::parse(&text);
        prop_assert_eq!(parsed.as_ref(), Ok(&sdp), "{}", text);
        prop_assert_eq!(parsed.unwrap().to_string(), text);
    }

    #[test]
    fn any_text_parses_or_fails_cleanly_and_writing_is_stable(lines in prop::collection::vec("[a-z=0-9 :/.-]{0,24}", 0..12)) {
        let text = format!("v=0\r\n{}", lines.join("\r\n"));
        if let Ok(sdp) = SessionDescription::parse(&text) {
            let written = sdp.to_string();
            prop_assert_eq!(SessionDescription::parse(&written).unwrap().to_string(), written);
        }
    }
}
