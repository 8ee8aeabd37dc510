//! The media plane of callcomp, sans-IO.
//!
//! Everything a server needs to terminate, generate and mix telephone audio, without sockets or
//! clocks: the server owns the UDP sockets and the 20 ms tick and feeds this crate bytes, frames
//! and the current time (`crates/server/src/media`, see `docs/media.md`).
//!
//! Layout, one concern per module:
//! - [`rtp`]: RTP packets (RFC 3550 §5.1) and wrap-aware sequence and timestamp arithmetic.
//! - [`jitter`]: a small reorder/jitter buffer that plays packets out in sequence order.
//! - [`g711`]: µ-law and A-law (ITU-T G.711) between bytes and 16-bit linear PCM.
//! - [`telephone_event`]: the RFC 4733 §2.3 telephone-event payload (DTMF).
//! - [`sdp`]: session descriptions (RFC 4566), parsed and written back losslessly.
//! - [`offer_answer`]: the answerer's side of RFC 3264 for PCMU, PCMA and telephone-event.
//! - [`tone`]: call-progress tones (ringback, busy, confirmation, warning) with per-country cadences.
//! - [`mixer`]: an N-party conference mix where each party hears the sum of the others.
//! - [`goertzel`]: single-frequency power detection, to check what a party hears.
//! - [`wav`]: 8 kHz mono WAV files (announcements) read into and written from linear PCM.
//!
//! Audio inside the crate is 8 kHz mono 16-bit linear PCM in frames of [`FRAME_SAMPLES`] samples
//! (20 ms, the default `ptime` of RFC 3551 §4.5 for G.711).
//!
//! A recall's first moments, as the server will drive them: answer the caller's offer, then send
//! her 20 ms of ringback.
//!
//! ```
//! use callcomp_media::offer_answer::{answer, Codec, LocalMedia};
//! use callcomp_media::rtp::Packet;
//! use callcomp_media::sdp::{Direction, SessionDescription};
//! use callcomp_media::tone::{Country, ToneGenerator};
//!
//! let offer = SessionDescription::parse(
//!     "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n\
//!      m=audio 7078 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n",
//! )?;
//! let local = LocalMedia {
//!     address: "192.0.2.1".into(),
//!     port: 40000,
//!     codecs: vec![Codec::Pcmu, Codec::Pcma],
//!     telephone_event: true,
//!     direction: Direction::SendRecv,
//!     session_id: 1,
//!     session_version: 1,
//! };
//! let reply = answer(&offer, &local)?; // an Err maps to 488 (`status()`)
//! assert_eq!(reply.stream.codec, Codec::Pcma); // the phone's first choice
//! let body = reply.sdp.to_bytes(); // goes in the ACK (or the 200)
//! assert!(body.starts_with(b"v=0\r\n"));
//!
//! let mut ringback = ToneGenerator::new(&Country::Eu.tones().ringback)?;
//! let mut payload = [0u8; callcomp_media::FRAME_SAMPLES];
//! reply.stream.codec.law().encode_into(&ringback.next_frame(), &mut payload);
//! let packet = Packet::new(reply.stream.payload_type, 1, 160, 0x5eed, &payload);
//! let datagram = packet.to_bytes(); // to reply.stream.remote, 192.0.2.7:7078
//! assert_eq!(datagram.len(), 12 + 160);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod g711;
pub mod goertzel;
pub mod jitter;
pub mod mixer;
pub mod offer_answer;
pub mod rtp;
pub mod sdp;
pub mod telephone_event;
pub mod tone;
pub mod wav;

/// The sampling rate of G.711 and of every frame in this crate (RFC 3551 §4.5.14).
pub const SAMPLE_RATE: u32 = 8000;

/// Samples in one 20 ms frame at [`SAMPLE_RATE`].
pub const FRAME_SAMPLES: usize = 160;

/// One 20 ms frame of 8 kHz 16-bit linear PCM.
pub type Frame = [i16; FRAME_SAMPLES];
