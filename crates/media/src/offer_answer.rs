//! The SDP offer/answer model (RFC 3264) for callcomp's own media: one audio stream, G.711
//! (`PCMU`, `PCMA`) and RFC 4733 `telephone-event`.
//!
//! - [`answer`] answers a phone's offer (§6): one `m=` line per offered stream, in order; the
//!   first audio `RTP/AVP` stream with a codec in common is accepted, every other stream is
//!   rejected with port 0 (§6, §8.2); the codec is the offerer's first choice among ours, with
//!   the offerer's payload type numbers (§6.1); the direction mirrors the offer's (§6.1: sendonly
//!   is answered recvonly, recvonly sendonly, inactive inactive), further limited by what we
//!   want; a `c=0.0.0.0` offer is the old way of putting us on hold (§8.4) and gets no media from
//!   us. No codec in common: [`OfferAnswerError::NoSharedCodec`], which a server answers 488.
//! - [`offer`] makes our own offer (§5) and [`accept_answer`] reads the answer to it (§6, §7),
//!   for the re-INVITEs that move a call onto the mixer.

use std::net::{IpAddr, SocketAddr};

use thiserror::Error;

use crate::g711::Law;
use crate::sdp::{Address, Attribute, Direction, Media, Origin, SessionDescription, Timing};

/// The only transport profile we terminate (RFC 3551); SRTP (`RTP/SAVP`) is not built.
pub const PROFILE: &str = "RTP/AVP";

/// The frame length we send and ask for, in milliseconds.
pub const PTIME_MS: u32 = 20;

/// The dynamic payload type we offer for telephone-event (the common choice of phones).
pub const TELEPHONE_EVENT_PT: u8 = 101;

/// A codec we can send and receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
}

impl Codec {
    /// The RTP encoding name (RFC 3551 §4.5.14).
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The static payload type (RFC 3551 Table 4).
    pub fn static_payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The companding law to code frames with.
    pub fn law(self) -> Law {
        match self {
            Codec::Pcmu => Law::MuLaw,
            Codec::Pcma => Law::ALaw,
        }
    }
}

/// Why an offer or answer cannot be used; each maps to a SIP status ([`Self::status`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OfferAnswerError {
    /// No offered audio stream has PCMU or PCMA over RTP/AVP.
    #[error(
        "no audio stream with a codec in common (PCMU, PCMA over RTP/AVP) among {streams} offered"
    )]
    NoSharedCodec {
        /// Streams in the offer.
        streams: usize,
    },
    /// The accepted stream has no `c=` at media or session level.
    #[error("media stream {index} has no connection address")]
    MissingConnection {
        /// The stream's index.
        index: usize,
    },
    /// An answer with a different number of streams than the offer (RFC 3264 §6).
    #[error("the answer has {answered} media streams, the offer had {offered}")]
    StreamCount {
        /// Streams offered.
        offered: usize,
        /// Streams answered.
        answered: usize,
    },
    /// The answer rejected our audio stream (port 0) or chose no codec we offered.
    #[error("the answer rejected our audio stream")]
    Rejected,
}

impl OfferAnswerError {
    /// The SIP status to answer an unusable offer with: 488 Not Acceptable Here (RFC 3261
    /// §21.4.26); an unusable answer ends the call with the same status on the BYE's reason.
    pub fn status(&self) -> u16 {
        488
    }
}

/// Our side of a stream: where we receive and what we want.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// The address we receive RTP on (the `media.address` of the server).
    pub address: String,
    /// Our RTP port for this stream.
    pub port: u16,
    /// Codecs we accept, in our order of preference (used when we offer).
    pub codecs: Vec<Codec>,
    /// Whether we take RFC 4733 telephone-events.
    pub telephone_event: bool,
    /// What we want to do: sendrecv normally, sendonly to hold the other side.
    pub direction: Direction,
    /// `o=` session id, fixed for the dialog.
    pub session_id: u64,
    /// `o=` version, increased by the caller for every new offer or answer it makes (§8).
    pub session_version: u64,
}

/// The remote end of the accepted stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The address from `c=` (an IP literal, or a host name the server must resolve).
    pub address: String,
    /// The RTP port from `m=`.
    pub port: u16,
}

impl Remote {
    /// The socket address, when the address is an IP literal.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let ip: IpAddr = self.address.parse().ok()?;
        Some(SocketAddr::new(ip, self.port))
    }
}

/// What was agreed for the one audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The stream's index among the `m=` lines.
    pub index: usize,
    /// Where to send; `None` when the other side does not want our media (held by `c=0.0.0.0`).
    pub remote: Option<Remote>,
    /// The codec to send and expect.
    pub codec: Codec,
    /// Its payload type number in this session.
    pub payload_type: u8,
    /// The telephone-event payload type, when both sides have it.
    pub telephone_event: Option<u8>,
    /// The other side's `ptime`, or 20.
    pub remote_ptime: u32,
    /// Our direction: whether we send and whether we expect to receive.
    pub direction: Direction,
}

/// An answer to a phone's offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The description to send back.
    pub sdp: SessionDescription,
    /// What it agreed.
    pub stream: Negotiated,
}

/// Answers `offer` with our media (RFC 3264 §6).
pub fn answer(offer: &SessionDescription, local: &LocalMedia) -> Result<Answer, OfferAnswerError> {
    let mut accepted: Option<(usize, Choice)> = None;
    let mut media = Vec::with_capacity(offer.media.len());
    for (index, offered) in offer.media.iter().enumerate() {
        let choice = if accepted.is_none() && is_usable_audio(offered) {
            choose(offered, local)
        } else {
            None
        };
        match choice {
            Some(choice) => {
                media.push(Media {
                    media: offered.media.clone(),
                    port: local.port,
                    port_count: None,
                    proto: offered.proto.clone(),
                    formats: Vec::new(),
                    connection: None,
                    other_lines: Vec::new(),
                    attributes: Vec::new(),
                });
                accepted = Some((index, choice));
            }
            None => media.push(rejected(offered)),
        }
    }
    let Some((index, choice)) = accepted else {
        return Err(OfferAnswerError::NoSharedCodec {
            streams: offer.media.len(),
        });
    };
    let connection = offer
        .connection_for(index)
        .ok_or(OfferAnswerError::MissingConnection { index })?;
    let offered_direction = offer.direction(index);
    // §8.4: c=0.0.0.0 says "do not send to me", whatever the direction attribute says.
    let peer_receives = offered_direction.receives() && !connection.is_unspecified();
    let direction = Direction::from_flags(
        local.direction.sends() && peer_receives,
        local.direction.receives() && offered_direction.sends(),
    );
    let stream = Negotiated {
        index,
        remote: (!connection.is_unspecified()).then(|| Remote {
            address: connection.address.clone(),
            port: offer.media[index].port,
        }),
        codec: choice.codec,
        payload_type: choice.payload_type,
        telephone_event: choice.telephone_event,
        remote_ptime: offer.media[index].ptime().unwrap_or(PTIME_MS),
        direction,
    };
    if let Some(m) = media.get_mut(index) {
        fill_audio(
            m,
            choice.codec,
            choice.payload_type,
            choice.telephone_event,
            direction,
        );
    }
    let sdp = SessionDescription {
        origin: origin(local),
        session_name: "callcomp".into(),
        connection: Some(Address::internet(&local.address)),
        // §6: the answer's t= equals the offer's.
        timing: offer.timing.clone(),
        other_lines: Vec::new(),
        attributes: Vec::new(),
        media,
    };
    Ok(Answer { sdp, stream })
}

/// Our offer of one audio stream (RFC 3264 §5): our codecs in order of preference, with
/// telephone-event if we take it.
pub fn offer(local: &LocalMedia) -> SessionDescription {
    let mut formats: Vec<String> = local
        .codecs
        .iter()
        .map(|c| c.static_payload_type().to_string())
        .collect();
    let mut attributes: Vec<Attribute> = local
        .codecs
        .iter()
        .map(|&c| rtpmap(c.static_payload_type(), c.name()))
        .collect();
    if local.telephone_event {
        formats.push(TELEPHONE_EVENT_PT.to_string());
        attributes.extend(telephone_event_attributes(TELEPHONE_EVENT_PT));
    }
    attributes.push(Attribute::Ptime(PTIME_MS));
    attributes.push(Attribute::Direction(local.direction));
    SessionDescription {
        origin: origin(local),
        session_name: "callcomp".into(),
        connection: Some(Address::internet(&local.address)),
        timing: vec![Timing::default()],
        other_lines: Vec::new(),
        attributes: Vec::new(),
        media: vec![Media {
            media: "audio".into(),
            port: local.port,
            port_count: None,
            proto: PROFILE.into(),
            formats,
            connection: None,
            other_lines: Vec::new(),
            attributes,
        }],
    }
}

/// Reads the answer to an [`offer`] made with `local` (RFC 3264 §6, §7).
pub fn accept_answer(
    local: &LocalMedia,
    answer: &SessionDescription,
) -> Result<Negotiated, OfferAnswerError> {
    if answer.media.len() != 1 {
        return Err(OfferAnswerError::StreamCount {
            offered: 1,
            answered: answer.media.len(),
        });
    }
    let answered = &answer.media[0];
    if answered.port == 0 || answered.proto != PROFILE {
        return Err(OfferAnswerError::Rejected);
    }
    let choice = choose(answered, local).ok_or(OfferAnswerError::Rejected)?;
    let connection = answer
        .connection_for(0)
        .ok_or(OfferAnswerError::MissingConnection { index: 0 })?;
    let answered_direction = answer.direction(0);
    let peer_receives = answered_direction.receives() && !connection.is_unspecified();
    Ok(Negotiated {
        index: 0,
        remote: (!connection.is_unspecified()).then(|| Remote {
            address: connection.address.clone(),
            port: answered.port,
        }),
        codec: choice.codec,
        payload_type: choice.payload_type,
        telephone_event: choice.telephone_event,
        remote_ptime: answered.ptime().unwrap_or(PTIME_MS),
        direction: Direction::from_flags(
            local.direction.sends() && peer_receives,
            local.direction.receives() && answered_direction.sends(),
        ),
    })
}

/// The codec and payload types picked from one offered stream.
#[derive(Debug, Clone, Copy)]
struct Choice {
    codec: Codec,
    payload_type: u8,
    telephone_event: Option<u8>,
}

fn is_usable_audio(m: &Media) -> bool {
    m.port != 0 && m.media.eq_ignore_ascii_case("audio") && m.proto == PROFILE
}

/// What a payload type in `m` stands for: its rtpmap, else the static assignment (RFC 3551
/// Table 4; an rtpmap may also rebind a static number, and then it wins).
enum Format {
    Codec(Codec),
    TelephoneEvent,
    Other,
}

fn format_of(m: &Media, payload_type: u8) -> Format {
    match m.rtpmap(payload_type) {
        Some((name, 8000)) if name.eq_ignore_ascii_case("PCMU") => Format::Codec(Codec::Pcmu),
        Some((name, 8000)) if name.eq_ignore_ascii_case("PCMA") => Format::Codec(Codec::Pcma),
        Some((name, 8000)) if name.eq_ignore_ascii_case("telephone-event") => {
            Format::TelephoneEvent
        }
        Some(_) => Format::Other,
        None => match payload_type {
            0 => Format::Codec(Codec::Pcmu),
            8 => Format::Codec(Codec::Pcma),
            _ => Format::Other,
        },
    }
}

fn choose(m: &Media, local: &LocalMedia) -> Option<Choice> {
    let mut codec = None;
    let mut telephone_event = None;
    for payload_type in m.formats.iter().filter_map(|f| f.parse::<u8>().ok()) {
        match format_of(m, payload_type) {
            Format::Codec(c) if codec.is_none() && local.codecs.contains(&c) => {
                codec = Some((c, payload_type));
            }
            Format::TelephoneEvent if telephone_event.is_none() && local.telephone_event => {
                telephone_event = Some(payload_type);
            }
            _ => {}
        }
    }
    codec.map(|(codec, payload_type)| Choice {
        codec,
        payload_type,
        telephone_event,
    })
}

fn rejected(offered: &Media) -> Media {
    Media {
        media: offered.media.clone(),
        port: 0,
        port_count: None,
        proto: offered.proto.clone(),
        // §6: a rejected stream still lists at least one format; echo the offer's.
        formats: if offered.formats.is_empty() {
            vec!["0".into()]
        } else {
            offered.formats.clone()
        },
        connection: None,
        other_lines: Vec::new(),
        attributes: Vec::new(),
    }
}

fn fill_audio(
    m: &mut Media,
    codec: Codec,
    payload_type: u8,
    telephone_event: Option<u8>,
    direction: Direction,
) {
    m.formats.push(payload_type.to_string());
    m.attributes.push(rtpmap(payload_type, codec.name()));
    if let Some(te) = telephone_event {
        m.formats.push(te.to_string());
        m.attributes.extend(telephone_event_attributes(te));
    }
    m.attributes.push(Attribute::Ptime(PTIME_MS));
    m.attributes.push(Attribute::Direction(direction));
}

fn rtpmap(payload_type: u8, name: &str) -> Attribute {
    Attribute::Rtpmap {
        payload_type,
        encoding: name.into(),
        clock_rate: 8000,
        params: None,
    }
}

fn telephone_event_attributes(payload_type: u8) -> [Attribute; 2] {
    [
        rtpmap(payload_type, "telephone-event"),
        // RFC 4733 §2.4.1: the events we take, the 16 DTMF keys.
        Attribute::Fmtp {
            format: payload_type.to_string(),
            params: "0-15".into(),
        },
    ]
}

fn origin(local: &LocalMedia) -> Origin {
    Origin {
        username: "callcomp".into(),
        session_id: local.session_id.to_string(),
        session_version: local.session_version,
        address: Address::internet(&local.address),
    }
}

#[cfg(test)]
#[path = "offer_answer_tests.rs"]
mod tests;
